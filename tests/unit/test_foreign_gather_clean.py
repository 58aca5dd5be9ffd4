"""export/foreign_rewrite.py's gather_elements_1d on a constant index (DeBERTa's relative-
position gathers of run-time scores) and export/foreign.py's clean() repeated to a fixpoint
(a fold of ours that makes a shape static lets the optimizer fold its Shape: Swin's Pad).
Graphs are built with onnx.helper; data from numpy default_rng(0)."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign import clean
from edgeformer.export.foreign_rewrite import gather_elements_1d, rewrite
from edgeformer.export.onnx_check import session


def _gather_elements(data_shape, idx, axis):
    nodes = [helper.make_node("Relu", ["x"], ["h"]),
             helper.make_node("GatherElements", ["h", "idx"], ["y"], axis=axis)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(data_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(idx.shape))],
                          [numpy_helper.from_array(idx, "idx")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_constant_index_gather_elements_becomes_a_flat_gather(axis):
    rng = np.random.default_rng(0)
    data_shape = (2, 6, 8)
    idx_shape = (2, 5, 8) if axis != 1 else (2, 4, 7)       # index may be smaller than data off-axis
    n = data_shape[axis]
    idx = rng.integers(-n, n, size=idx_shape).astype(np.int64)   # negative positions count from the end
    m = _gather_elements(data_shape, idx, axis)
    x = rng.standard_normal(data_shape).astype(np.float32)
    ref = session(m.SerializeToString()).run(None, {"x": x})[0]
    out, counts = rewrite(m)
    assert counts.get("gather_elements_1d") == 1
    assert [n.op_type for n in out.graph.node] == ["Relu", "Reshape", "Gather"]
    np.testing.assert_array_equal(session(out.SerializeToString()).run(None, {"x": x})[0], ref)


def test_out_of_range_constant_index_is_left_for_the_unsupported_op_error():
    m = _gather_elements((2, 3), np.array([[0, 3], [1, 2]], np.int64), 1)
    assert gather_elements_1d(m) == 0


def _padded_shape_model():
    """x -> Pad(pads = ConstantOfShape) -> Reshape(., Shape(.)): the optimizer leaves the
    ConstantOfShape, our fold turns it into a constant, only then is Pad's shape static."""
    nodes = [helper.make_node("ConstantOfShape", ["n4"], ["pads"],
                              value=numpy_helper.from_array(np.array([1], np.int64))),
             helper.make_node("Pad", ["x", "pads"], ["xp"]), helper.make_node("Shape", ["xp"], ["s"]),
             helper.make_node("Reshape", ["xp", "s"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.array([4], np.int64), "n4")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_clean_repeats_until_the_shape_arithmetic_is_folded():
    assert "Shape" in [n.op_type for n in clean(_padded_shape_model(), rounds=1).graph.node]
    out = clean(_padded_shape_model())
    assert [n.op_type for n in out.graph.node] == ["Pad"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(session(out.SerializeToString()).run(None, {"x": x})[0],
                                  np.pad(x, 1))


@pytest.mark.parametrize("lead_shape", [(3,), (2, 3)])
def test_index_expanded_over_leading_axes_is_stored_once(lead_shape):
    """DeBERTa's c2p index is one (Q, K) grid expanded over batch x heads: the Gather keeps the
    leading axes and its index has Q*K entries, not B*H*Q*K."""
    rng = np.random.default_rng(0)
    q, s, k = 5, 8, 4
    grid = rng.integers(0, s, size=(q, k)).astype(np.int64)
    idx = np.broadcast_to(grid, (*lead_shape, q, k)).copy()
    data_shape = (*lead_shape, q, s)
    m = _gather_elements(data_shape, idx, len(data_shape) - 1)
    x = rng.standard_normal(data_shape).astype(np.float32)
    ref = session(m.SerializeToString()).run(None, {"x": x})[0]
    out, counts = rewrite(m)
    assert counts.get("gather_elements_1d") == 1
    pos = next(t for t in out.graph.initializer if t.name.endswith("/positions"))
    assert list(pos.dims) == [q, k]
    np.testing.assert_array_equal(session(out.SerializeToString()).run(None, {"x": x})[0], ref)
