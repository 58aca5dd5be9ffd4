"""export/foreign_convt.py: ConvTranspose as zero insertion (MatMul by 0/1 matrices) + Conv
with the flipped, channel-swapped kernel, equal to onnxruntime's ConvTranspose on the original
node over strides, pads, output_padding, dilations and groups, 1-D and 2-D; then torch's
nn.ConvTranspose2d through export --onnx float32 and int8 with verify on the host. Weights and
inputs: numpy default_rng(0) / torch.manual_seed(0)."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.onnx_check import session


def _convt(xs, c_out, k, group=1, bias=True, **attrs):
    rng = np.random.default_rng(0)
    sp = len(xs) - 2
    w = rng.standard_normal((xs[1], c_out // group, *([k] * sp))).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W")]
    ins = ["x", "W"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float32), "B"))
        ins.append("B")
    g = helper.make_graph([helper.make_node("ConvTranspose", ins, ["y"], group=group, **attrs)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(xs))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("xs,c_out,k,group,bias,attrs", [
    ((1, 4, 5), 3, 4, 1, True, dict(strides=[2], pads=[1, 1])),
    ((1, 4, 6), 4, 3, 2, False, dict(strides=[3], pads=[0, 1], output_padding=[1])),
    ((1, 3, 4, 5), 2, 2, 1, True, dict(strides=[2, 2])),
    ((1, 4, 4, 3), 6, 3, 2, True, dict(strides=[2, 1], pads=[1, 0, 1, 1], output_padding=[1, 0],
                                       dilations=[1, 2])),
    ((1, 2, 3, 3), 2, 3, 1, True, {}),
])
def test_conv_transpose_equals_onnxruntime(xs, c_out, k, group, bias, attrs):
    m = _convt(xs, c_out, k, group, bias, **attrs)
    x = np.random.default_rng(1).standard_normal(xs).astype(np.float32)
    ref = session(m.SerializeToString()).run(None, {"x": x})[0]
    out, counts = rewrite(m)
    assert counts.get("conv_transpose_conv") == 1 and "ConvTranspose" not in {n.op_type for n in out.graph.node}
    got = session(out.SerializeToString()).run(None, {"x": x})[0]
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_torch_conv_transpose_runs_on_the_host_like_onnxruntime(tmp_path):
    import torch
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.actions import verify_artifact
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(8, 4, 4, 2, 1), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(4, 2, 3, 2, 1, output_padding=1)).eval()
    src = tmp_path / "m.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(src), input_names=["x"], output_names=["y"], dynamo=True)
    for q in ("float32", "int8"):
        meta = export_artifact(tmp_path / q, resolve_source(None, None, str(src)), quantize=q, log=lambda *a: None)
        assert meta["onnx"]["rewrites"].get("conv_transpose_conv") == 2
        res = verify_artifact(tmp_path / q, n=5)
        assert res["passed"], res
