"""spiking-lmuformer-fsdd int8 through the real CLI: its spike-fed layers export as
ef.SpikeFC, the host build equals onnxruntime exactly, and on the M7 stand-in those layers
cost fewer instructions per MAC than the dense int8 layer of the same firmware."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_json

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None
                                or shutil.which("qemu-system-arm") is None,
                                reason="needs arm-none-eabi-gcc and qemu-system-arm")


def test_spiking_lmuformer_exports_verifies_and_its_spike_layers_are_cheaper(tmp_path):
    art = tmp_path / "art"
    run_json("export", "--model", "spiking-lmuformer-fsdd", "--out", art)
    model_c = (art / "c" / "model.c").read_text()
    assert model_c.count("ef_spike_fc_s8(ef_") >= 2
    ver = run_json("verify", art, "--inputs", "8")
    assert ver["passed"] and ver["max_abs_diff"] == 0.0
    prof = run_json("profile", art, "--board", "stm32f746g-disco")
    cost = {x["name"]: x["instructions"] for x in prof["layers"]}
    spike = [n for n in cost if n in ("node_Gemm_1", "node_Gemm_3")]
    assert spike, sorted(cost)
    # node_Gemm_2 (64 -> 128, dense int8 input) and node_Gemm_3 (128 -> 64, spikes): same MACs
    assert cost["node_Gemm_3"] < cost["node_Gemm_2"], (cost["node_Gemm_3"], cost["node_Gemm_2"])
    # node_Gemm_1: 96 -> 64 spikes, 3/4 of node_Gemm_2's MACs
    assert cost["node_Gemm_1"] < 0.75 * cost["node_Gemm_2"]
