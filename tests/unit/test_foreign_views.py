"""export/foreign_views.py: a packed q/k/v projection's views, however spelled, become Slices of
its columns (what split_matmul and the row loops read), and Transposes of size-1 axes become
Reshapes. Each case is built with onnx.helper (weights from a seeded numpy generator) and run
by onnxruntime before and after: the outputs must be bit-identical."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.onnx_check import session

T, E, H = 4, 8, 2
RNG = np.random.default_rng(0)   # provenance: seed 0, standard normal weights and inputs


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def _model(nodes, x_shape, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                          [*inits, _const("W", RNG.standard_normal((E, 3 * E)).astype(np.float32)),
                           _const("b", RNG.standard_normal(3 * E).astype(np.float32))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _projection(x="x"):
    return [helper.make_node("MatMul", [x, "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["qkv"])]


def _same_outputs(before, after, x_shape):
    x = RNG.standard_normal(x_shape).astype(np.float32)
    want = session(before.SerializeToString()).run(None, {"x": x})
    got = session(after.SerializeToString()).run(None, {"x": x})
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


def _readers_of_qkv(model):
    return sorted(n.op_type for n in model.graph.node if "qkv" in n.input)


def _copy(m):
    out = type(m)()
    out.CopyFrom(m)
    return out


def test_multihead_attention_packed_projection_becomes_slices():
    """nn.MultiheadAttention's spelling (both torch exporters): (T, B, 3E) -> unflatten(3, E) ->
    unsqueeze(0) -> transpose(0, -2) -> squeeze(-2) -> [0], [1], [2]."""
    nodes = _projection() + [
        helper.make_node("Reshape", ["qkv", "s4"], ["r"]),
        helper.make_node("Unsqueeze", ["r", "zero"], ["u"]),
        helper.make_node("Transpose", ["u"], ["t"], perm=[3, 1, 2, 0, 4]),
        helper.make_node("Squeeze", ["t", "three"], ["sq"]),
        *[helper.make_node("Gather", ["sq", f"i{k}"], [f"o{k}"], axis=0) for k in range(3)]]
    inits = [_const("s4", np.array([T, 1, 3, E], np.int64)), _const("zero", np.array([0], np.int64)),
             _const("three", np.array([3], np.int64)), *[_const(f"i{k}", np.array(k, np.int64)) for k in range(3)]]
    m = _model(nodes, [T, 1, E], ["o0", "o1", "o2"], inits)
    out, counts = rewrite(_copy(m))
    assert counts["packed_views"] == 3
    assert "Gather" not in {n.op_type for n in out.graph.node}
    assert _readers_of_qkv(out) == ["Slice"] * 3
    _same_outputs(m, out, [T, 1, E])


def test_timm_reshape_permute_index_becomes_slice_reshape_transpose():
    """timm / hand-written ViT: qkv.reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4); q = qkv[0]."""
    nodes = _projection() + [
        helper.make_node("Reshape", ["qkv", "s5"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[2, 0, 3, 1, 4]),
        *[helper.make_node("Gather", ["t", f"i{k}"], [f"o{k}"], axis=0) for k in range(3)]]
    inits = [_const("s5", np.array([1, T, 3, H, E // H], np.int64)),
             *[_const(f"i{k}", np.array(k, np.int64)) for k in range(3)]]
    m = _model(nodes, [1, T, E], ["o0", "o1", "o2"], inits)
    out, counts = rewrite(_copy(m))
    assert counts["packed_views"] == 3 and _readers_of_qkv(out) == ["Slice"] * 3
    # each head split is Slice -> Reshape (1, T, H, D) -> Transpose to (1, H, T, D)
    assert [n.op_type for n in out.graph.node if n.output[0] == "o0"] == ["Transpose"]
    _same_outputs(m, out, [1, T, E])


def test_chunk_split_becomes_slices():
    """qkv.chunk(3, -1): a Split on the last axis (opset 18's num_outputs)."""
    nodes = _projection() + [helper.make_node("Split", ["qkv"], ["o0", "o1", "o2"], axis=-1, num_outputs=3)]
    m = _model(nodes, [1, T, E], ["o0", "o1", "o2"], [], opset=18)
    out, counts = rewrite(_copy(m))
    assert counts["packed_views"] == 1 and _readers_of_qkv(out) == ["Slice"] * 3
    _same_outputs(m, out, [1, T, E])


def test_views_that_are_not_column_blocks_are_left_alone():
    """A token picked out (x[:, 0] through a reshape) and every third column (an interleaved
    layout) are not one block of the projection's columns: unchanged."""
    nodes = _projection() + [
        helper.make_node("Reshape", ["qkv", "s4"], ["r"]),
        helper.make_node("Gather", ["r", "i0"], ["tok"], axis=1),     # token 0: rows, not columns
        helper.make_node("Gather", ["r", "i0"], ["strided"], axis=3)]  # columns 0, 3, 6, ...
    inits = [_const("s4", np.array([1, T, E, 3], np.int64)), _const("i0", np.array(0, np.int64))]
    m = _model(nodes, [1, T, E], ["tok", "strided"], inits)
    out, counts = rewrite(_copy(m))
    assert "packed_views" not in counts
    assert sorted(n.op_type for n in out.graph.node) == ["Add", "Gather", "Gather", "MatMul", "Reshape"]


def test_transpose_of_unit_axes_becomes_reshape():
    """(1, T, E) -> (T, 1, E) moves no data (MultiheadAttention's batch_first transpose); a
    transpose of two axes of size > 1 stays."""
    nodes = [helper.make_node("Transpose", ["x"], ["a"], perm=[1, 0, 2]),
             helper.make_node("Transpose", ["a"], ["y"], perm=[2, 1, 0])]
    m = _model(nodes, [1, T, E], ["y"], [])
    out, counts = rewrite(_copy(m))
    assert counts["unit_transposes"] == 1
    assert [n.op_type for n in out.graph.node] == ["Reshape", "Transpose"]
    _same_outputs(m, out, [1, T, E])
