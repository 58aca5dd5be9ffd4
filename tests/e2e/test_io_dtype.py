"""export --io-dtype through the CLI: int8/uint8 I/O with its scale and zero point in model.h
and export.json, zero-copy I/O in the arena, verify against onnxruntime, and the one RAM figure
(arena + caller-held I/O + measured stack + static state) on the M7 stand-in."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli


def _cli(*args, check=True):
    return run_cli(*args, check=0 if check else None, timeout=900)


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    root = tmp_path_factory.mktemp("io")
    out = {}
    for io in ("float32", "int8", "uint8"):
        out[io] = root / io
        _cli("export", "--model", "vit-tiny-ref", "--quantize", "int8", "--io-dtype", io, "--out", out[io])
    return out


def test_model_h_and_export_json_carry_the_io_quantisation(arts):
    h = (arts["int8"] / "c" / "model.h").read_text()
    meta = json.loads((arts["int8"] / "export.json").read_text())
    assert meta["io_dtype"] == "int8"
    rin, rout = meta["io_quant"]["inputs"][0], meta["io_quant"]["outputs"][0]
    assert '#define EF_INPUT0_DTYPE "int8"' in h and "#define EF_INPUT0_BYTES 3072" in h
    assert f"#define EF_INPUT0_ZERO_POINT {rin['zero_point']}" in h and "EF_INPUT0_SCALE" in h
    assert f"#define EF_OUTPUT0_ZERO_POINT {rout['zero_point']}" in h
    assert "void *ef_model_input(int i);" in h and "#define EF_INPUT0_IN_ARENA 1" in h
    u = json.loads((arts["uint8"] / "export.json").read_text())["io_quant"]["inputs"][0]
    assert u["dtype"] == "uint8" and u["zero_point"] == rin["zero_point"] + 128
    f = json.loads((arts["float32"] / "export.json").read_text())
    assert f["io_dtype"] == "float32" and f["io_quant"]["inputs"] == [None]
    plans = {k: json.loads((v / "plan.json").read_text()) for k, v in arts.items()}
    assert plans["int8"]["arena_bytes"] <= plans["float32"]["arena_bytes"]
    assert all(p["caller_io_bytes"] == 0 for p in plans.values())   # every I/O is read in the arena


@pytest.mark.parametrize("io", ["float32", "int8", "uint8"])
def test_verify_matches_onnxruntime(arts, io):
    r = json.loads(_cli("verify", arts[io], "--inputs", "50", "--json").stdout)
    assert r["passed"], r
    assert r["max_abs_diff_steps"] <= 2


def test_io_dtype_needs_int8():
    r = _cli("export", "--model", "vit-tiny-ref", "--quantize", "float32", "--io-dtype", "int8",
             "--out", "/nonexistent-dir/x", check=False)
    assert r.returncode == 2 and "--io-dtype int8 needs --quantize int8" in r.stderr


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_one_ram_figure_on_the_m7(arts):
    b = json.loads(_cli("build", arts["int8"], "--board", "stm32f746g-disco", "--json").stdout)
    parts = b["ram_parts"]
    assert b["stack_measured"] and 0 < b["stack_bytes"] < 4096
    assert b["ram_bytes"] == parts["arena"] + parts["caller_io"] + parts["stack"] + parts["static"]
    assert parts["arena"] == b["arena_bytes"] and parts["caller_io"] == 0
    assert b["ram_bytes"] <= 18136   # issue 13: 0.20 x (TFLite Micro's 86,584-byte arena + 4,096 B stack)
    p = json.loads(_cli("profile", arts["int8"], "--board", "stm32f746g-disco", "--json").stdout)
    assert p["ram_bytes"] == b["ram_bytes"]
    r = json.loads(_cli("run", arts["int8"], "--board", "stm32f746g-disco", "--inputs", "5", "--json").stdout)
    assert r["passed"], r
