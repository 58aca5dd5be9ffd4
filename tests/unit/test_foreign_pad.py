"""export/foreign_pad.py: Pad in reflect/edge/wrap modes as Gathers of constant positions,
equal to onnxruntime's Pad on the original node (pads on several axes, negative pads, the
axes input of opset 18+). Data: numpy default_rng(0)."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.onnx_check import session


def _pad(shape, pads, mode, axes=None, opset=19):
    inits = [numpy_helper.from_array(np.array(pads, np.int64), "pads")]
    ins = ["x", "pads"]
    if axes is not None:
        inits.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
        ins += ["", "axes"]
    g = helper.make_graph([helper.make_node("Relu", ["x0"], ["x"]), helper.make_node("Pad", ins, ["y"], mode=mode)],
                          "g", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
@pytest.mark.parametrize("shape,pads,axes", [((1, 3, 8), [0, 0, 2, 0, 0, 3], None),
                                             ((1, 2, 5, 6), [0, 0, 1, 2, 0, 0, 3, -1], None),
                                             ((2, 7), [3, 2], [1]), ((1, 1, 4), [0, 0, 3, 0, 0, 3], None)])
def test_pad_modes_equal_onnxruntime(mode, shape, pads, axes):
    m = _pad(shape, pads, mode, axes)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ref = session(m.SerializeToString()).run(None, {"x0": x})[0]
    out, counts = rewrite(m)
    assert counts.get("pad_modes") == 1 and "Pad" not in {n.op_type for n in out.graph.node}
    np.testing.assert_array_equal(session(out.SerializeToString()).run(None, {"x0": x})[0], ref)


def test_constant_pad_is_left_to_the_pad_kernel():
    m = _pad((1, 3, 8), [0, 0, 2, 0, 0, 3], "constant")
    out, counts = rewrite(m)
    assert "pad_modes" not in counts and "Pad" in {n.op_type for n in out.graph.node}
