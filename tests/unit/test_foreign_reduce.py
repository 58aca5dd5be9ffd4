"""export/foreign_reduce.py: ArgMax/ArgMin as ReduceMax/Min + Equal + Where + ReduceMin/Max +
Cast, equal to onnxruntime's ArgMax/ArgMin on the original node (ties included: first or last
index), for opsets with axes as an attribute (13) and as an input (18). Data: numpy
default_rng(0), rounded so that ties occur."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.onnx_check import session


def _arg(op, shape, axis, keepdims, last, opset):
    out = list(shape)
    if keepdims:
        out[axis] = 1
    else:
        del out[axis]
    node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims, select_last_index=last)
    g = helper.make_graph([helper.make_node("Relu", ["x0"], ["x"]), node], "g",
                          [helper.make_tensor_value_info("x0", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, out)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keepdims,last,opset", [(-1, 0, 0, 17), (1, 1, 0, 18), (0, 1, 1, 13),
                                                      (2, 0, 1, 20)])
def test_arg_reduce_equals_onnxruntime(op, axis, keepdims, last, opset):
    shape = (3, 4, 6)
    m = _arg(op, shape, axis, keepdims, last, opset)
    x = np.round(np.random.default_rng(0).standard_normal((5, *shape)) * 2).astype(np.float32)  # ties, zeros
    ref = [session(m.SerializeToString()).run(None, {"x0": xi})[0] for xi in x]
    out, counts = rewrite(m)
    assert counts.get("arg_reduce") == 1 and op not in {n.op_type for n in out.graph.node}
    got = [session(out.SerializeToString()).run(None, {"x0": xi})[0] for xi in x]
    for g, r in zip(got, ref):
        assert g.dtype == np.int64 and g.shape == r.shape
        np.testing.assert_array_equal(g, r)


def test_classifier_returning_its_prediction_runs_on_the_host_like_onnxruntime(tmp_path):
    """(logits, logits.argmax(-1)) from torch's legacy exporter: export --onnx int8 + verify."""
    import torch
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.actions import verify_artifact

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 5)

        def forward(self, x):
            y = self.fc(x)
            return y, y.argmax(-1)

    torch.manual_seed(0)
    src = tmp_path / "m.onnx"
    torch.onnx.export(Net().eval(), (torch.randn(1, 4, 8),), str(src), input_names=["x"],
                      output_names=["logits", "pred"], dynamo=False)
    export_artifact(tmp_path / "art", resolve_source(None, None, str(src)), quantize="int8", log=lambda *a: None)
    res = verify_artifact(tmp_path / "art", n=20)
    assert res["passed"] and [o["max_abs_diff"] for o in res["outputs"]] == [0.0, 0.0], res
