"""export/foreign_norm.py: InstanceNormalization (and nn.GroupNorm, which both of torch's
exporters write as Reshape + InstanceNormalization + Reshape + Mul + Add) as LayerNormalization
with the affine outside; numerics against onnxruntime on the original graph, then through the
whole pipeline (host C == onnxruntime). Weights: numpy default_rng(0)."""
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign_norm import instance_norm_layernorm
from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.onnx_check import session


def _instnorm(shape=(1, 4, 10), eps=1e-5, unit=False):
    rng = np.random.default_rng(0)
    c = shape[1]
    s = np.ones(c, np.float32) if unit else rng.standard_normal(c).astype(np.float32)
    b = np.zeros(c, np.float32) if unit else rng.standard_normal(c).astype(np.float32)
    g = helper.make_graph([helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=eps)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                          [numpy_helper.from_array(s, "s"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _run(m, x):
    return session(m.SerializeToString()).run(None, {"x": x})[0]


@pytest.mark.parametrize("shape,eps,unit", [((1, 4, 10), 1e-5, False), ((1, 3, 5, 6), 1e-3, False),
                                            ((2, 8, 7), 1e-5, True)])
def test_instance_norm_becomes_layernorm_with_the_same_numerics(shape, eps, unit):
    m = _instnorm(shape, eps, unit)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 3 + 1
    ref = _run(m, x)
    out, counts = rewrite(m)
    ops = [n.op_type for n in out.graph.node]
    assert counts.get("instance_norm_layernorm") == 1 and "InstanceNormalization" not in ops
    assert ops == (["LayerNormalization"] if unit else ["LayerNormalization", "Mul", "Add"])
    ln = out.graph.node[0]
    assert next(a.i for a in ln.attribute if a.name == "axis") == 2
    np.testing.assert_allclose(_run(out, x), ref, rtol=1e-5, atol=1e-5)


def test_run_time_scale_is_left_alone():
    m = _instnorm()
    m.graph.input.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, [4]))
    del m.graph.initializer[0]
    assert instance_norm_layernorm(m) == 0


def test_group_norm_from_both_exporters_runs_on_the_host_like_onnxruntime(tmp_path):
    """nn.GroupNorm(2, 8) after a Conv1d, exported by each of torch's exporters, through
    export --onnx float32 and verify on the host."""
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.actions import verify_artifact
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.GELU()).eval()
    with torch.no_grad():
        net[1].weight.normal_()
        net[1].bias.normal_()
    for dynamo in (False, True):
        src = tmp_path / f"gn-{dynamo}.onnx"
        torch.onnx.export(net, (torch.randn(1, 4, 20),), str(src), input_names=["x"], output_names=["y"],
                          dynamo=dynamo)
        assert "InstanceNormalization" in {n.op_type for n in onnx.load(src).graph.node}
        art = tmp_path / f"art-{dynamo}"
        meta = export_artifact(art, resolve_source(None, None, str(src)), quantize="float32", log=lambda *a: None)
        assert meta["onnx"]["rewrites"].get("instance_norm_layernorm") == 1
        res = verify_artifact(art, n=5)
        assert res["passed"] and res["max_abs_diff"] < 1e-4, res
