"""The spiking passes in the export PIPELINE: a spiking ViT's MLP threshold (in its block's
row loop) becomes ef.LIF inside the loop body, its fc2 (fused bias Add) stays dense and is
reported as spike-fed, spike_fc rewrites a loop body where it applies, the host C and the
M7 stand-in equal onnxruntime bit for bit, the search's memory model equals plan.json to the
byte, spike rates are found for loop layers, and profile reports them. Provenance: vit-digits with spiking_mlp=True, untrained, torch.manual_seed(0)
(the memory model: its own seeded weights); real digits test inputs."""
from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

from edgeformer.export.pipeline import Source, export_artifact
from edgeformer.models import build
from edgeformer.zoo import preset

SPEC = dataclasses.replace(preset("vit-digits"), spiking_mlp=True)
QEMU = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("svit") / "art"
    export_artifact(path, Source("preset", "spiking-vit-digits", SPEC, build(SPEC).eval(), "digits"),
                    log=lambda m: None)
    return path


def _lowered(art):
    from edgeformer.export.plan_only import lower_and_plan
    return lower_and_plan(art / "model.int8.onnx")


def test_mlp_threshold_fuses_inside_the_row_loop_and_fc2_stays_dense(art):
    from edgeformer.export.passes.spike_fc import spike_fed_layers
    low = _lowered(art)
    loops = [n for n in low.graph.nodes if n.op == "ef.RowLoop"]
    body_ops = [b.op for n in loops for b in n.attrs["body"].nodes]
    top_ops = [n.op for n in low.graph.nodes]
    assert body_ops.count("ef.LIF") == 1, body_ops
    assert not {"Greater", "Cast"} & set(body_ops + top_ops)
    # fc2 carries its fused bias Add: the dense kernel does both in one pass (measured faster)
    ((fc, loop, _, lv),) = spike_fed_layers(low.graph)
    assert fc.name == "/blocks.0/mlp/fc2/MatMul" and fc.op == "ef.QMatMul" and "add_y_scale" in fc.attrs
    assert loop is not None and lv[0] == fc.attrs["x_zp"]


def test_spike_fc_rewrites_a_loop_body_and_replans_it(art):
    # fc2 without its fused Add (a Gemm-like layer in a loop): event-driven inside the body,
    # its spike levels seeded from nothing outside (both made in the body), the body re-planned.
    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import LOWERING, MEMORY, run
    from edgeformer.export.passes.lif_fuse import lif_fuse
    from edgeformer.export.passes.spike_fc import spike_fc
    g = run(load_onnx(art / "model.int8.onnx"), LOWERING + MEMORY + (lif_fuse,))
    nodes = []
    for n in g.nodes:
        if n.op == "ef.RowLoop" and any("add_y_scale" in b.attrs and "fc2" in b.name for b in n.attrs["body"].nodes):
            body = n.attrs["body"]
            bn = tuple(b if "fc2" not in b.name else
                       b.__class__(b.op, b.name, b.inputs[:3], b.outputs,
                                   {k: v for k, v in b.attrs.items() if not k.startswith("add_")})
                       for b in body.nodes)
            n = n.__class__(n.op, n.name, n.inputs, n.outputs, {**n.attrs, "body": body.replace(nodes=bn)})
        nodes.append(n)
    g = g.replace(nodes=tuple(nodes))
    out = spike_fc(g)
    (loop,) = [n for n in out.nodes if n.op == "ef.RowLoop" and any(b.op == "ef.SpikeFC" for b in n.attrs["body"].nodes)]
    body = loop.attrs["body"]
    outer = {m["body"] for m in loop.attrs["row_inputs"]} | {m["body"] for m in loop.attrs["row_outputs"]}
    acts = {k for k, t in body.tensors.items() if not t.is_const}
    assert acts - outer - set(loop.inputs) <= set(loop.attrs["body_offsets"])
    assert spike_fc(out).nodes == out.nodes   # idempotent


def test_host_c_equals_onnxruntime(art):
    from edgeformer.runtime.actions import verify_artifact
    res = verify_artifact(art, 100)
    assert res["passed"] and res["max_abs_diff"] == 0, res


@pytest.mark.skipif(not QEMU, reason="needs gcc-arm-none-eabi and qemu-system-arm")
def test_m7_stand_in_equals_onnxruntime_and_profile_reports_spike_rates(art):
    # ef_lif_s8's int8 threshold runs 4 at a time (SSUB8 + SEL) on a DSP core only
    from edgeformer.runtime.actions import profile_artifact, run_artifact
    res = run_artifact(art, "stm32f746g-disco", 20)
    assert res["passed"] and res["max_abs_diff"] == 0, res
    prof = profile_artifact(art, "stm32f746g-disco")
    (layer,) = prof["spike_rates"]["layers"]
    assert layer["layer"] == "/blocks.0/mlp/fc2/MatMul" and layer["loop"] and (layer["k"], layer["n"]) == (64, 32)
    assert not layer["event_driven"]
    assert 0 < layer["rate"] < 1


def test_spike_rates_find_the_loop_layer(art):
    from edgeformer.export.spike_rates import spike_rates
    layers, acc, src = spike_rates(art, 10)
    assert [x["layer"] for x in layers] == ["/blocks.0/mlp/fc2/MatMul"] and layers[0]["loop"]
    assert 0 < layers[0]["rate"] < 1 and acc is not None and "digits" in src


def test_memory_model_equals_plan_json(art):
    import json

    from edgeformer.nas.memory import PLAN_KEYS, plan_candidate
    keys = [k for k in PLAN_KEYS if k != "io_bytes"]
    got, want = plan_candidate(SPEC), json.loads((art / "plan.json").read_text())
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys}


def test_non_spiking_models_have_no_spike_layers(tmp_path):
    from edgeformer.export.spike_rates import spike_layers
    torch.manual_seed(0)
    spec = preset("vit-digits")
    export_artifact(tmp_path / "a", Source("preset", "vit-digits", spec, build(spec).eval(), "digits"),
                    log=lambda m: None)
    assert spike_layers(tmp_path / "a" / "model.int8.onnx") == []
