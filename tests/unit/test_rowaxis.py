"""passes/rowaxis.py: the row rules not covered by test_row_loop.py, and slice_params, each with
the axes worked out by hand: rows along axis a of an input mean rows along which output axis."""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.rowaxis import ROW_RULES, const_list, slice_params


def _g(nodes, shapes, consts=(), opset=17):
    ts = {n: Tensor(n, s, "float32") for n, s in shapes.items()}
    for n, arr in dict(consts).items():
        ts[n] = Tensor(n, arr.shape, str(arr.dtype), arr)
    return Graph(tuple(nodes), ts, (), (), {"opset": opset})


def _rule(node, shapes, known, consts=(), opset=17):
    return ROW_RULES[node.op](_g([node], shapes, consts, opset), node, known)


def _i64(*v):
    return np.asarray(v, np.int64)


def test_slice_params_normalises_negative_and_clamped_bounds():
    c = {"st": _i64(-3), "en": _i64(1 << 40), "ax": _i64(-1), "sp": _i64(2)}
    n = Node("Slice", "s", ("x", "st", "en", "ax", "sp"), ("y",))
    g = _g([n], {"x": (1, 4, 10), "y": (1, 4, 2)}, c)
    assert slice_params(g, n) == [(2, 7, 10, 2)]   # rank 3: axis -1 -> 2, start -3 -> 7
    old = Node("Slice", "s", ("x",), ("y",), {"starts": [1], "ends": [-1], "axes": [1]})
    assert slice_params(_g([old], {"x": (1, 4, 10), "y": (1, 2, 10)}), old) == [(1, 1, 3, 1)]
    assert const_list(g, "st") == [-3] and const_list(g, "x") is None


def test_gather_keeps_rows_off_the_gathered_axis():
    s = {"x": (1, 8, 6), "i": (2,), "y": (1, 8, 2)}
    n = Node("Gather", "g", ("x", "i"), ("y",), {"axis": 2})
    assert _rule(n, s, [1, None]) == ([1, None], [1])
    assert _rule(n, s, [2, None]) is None   # rows along the gathered axis
    # rows after the gathered axis move by the index rank - 1 (here a 2-D index: +1)
    s2 = {"x": (4, 8, 6), "i": (2, 3), "y": (2, 3, 8, 6)}
    assert _rule(Node("Gather", "g", ("x", "i"), ("y",), {"axis": 0}), s2, [1, None]) == (
        [1, None], [2])


def test_concat_and_split_only_off_their_axis():
    s = {"a": (1, 8, 4), "b": (1, 8, 4), "y": (1, 8, 8)}
    cat = Node("Concat", "c", ("a", "b"), ("y",), {"axis": -1})
    assert _rule(cat, s, [1, None]) == ([1, 1], [1])         # every input sliced alike
    assert _rule(cat, s, [1, 2]) is None
    assert _rule(Node("Concat", "c", ("a", "b"), ("y",), {"axis": 1}), s, [1, None]) is None
    split = Node("Split", "s", ("y",), ("a", "b"), {"axis": 2})
    assert _rule(split, s, [1]) == ([1], [1, 1])
    assert _rule(Node("Split", "s", ("y",), ("a", "b"), {"axis": 1}), s, [1]) is None


def test_reduce_rows_survive_unless_reduced_and_shift_without_keepdims():
    s = {"x": (1, 8, 6), "ax": (1,), "y": (1, 8)}
    n = Node("ReduceMean", "r", ("x", "ax"), ("y",), {"keepdims": 0})
    assert _rule(n, s, [1, None], {"ax": _i64(-1)}) == ([1, None], [1])
    assert _rule(n, s, [1, None], {"ax": _i64(1)}) is None              # reduces the rows
    n0 = Node("ReduceSum", "r", ("x", "ax"), ("y",), {"keepdims": 0})
    s0 = {"x": (2, 8, 6), "ax": (1,), "y": (8, 6)}
    assert _rule(n0, s0, [1, None], {"ax": _i64(0)}) == ([1, None], [0])  # axis 0 gone: 1 -> 0
    noaxes = Node("ReduceMax", "r", ("x",), ("y",), {"keepdims": 0})
    assert _rule(noaxes, {"x": (1, 8, 6), "y": ()}, [1]) is None         # reduces everything


def test_gemm_rows_of_a_with_a_bias_row_per_row_or_broadcast():
    s = {"a": (8, 4), "w": (4, 6), "c": (8, 6), "c1": (6,), "y": (8, 6)}
    assert _rule(Node("Gemm", "g", ("a", "w", "c"), ("y",)), s, [0, None, None]) == (
        [0, None, 0], [0])
    assert _rule(Node("Gemm", "g", ("a", "w", "c1"), ("y",)), s, [0, None, None]) == (
        [0, None, None], [0])
    assert _rule(Node("Gemm", "g", ("a", "w"), ("y",), {"transA": 1}), s, [0, None]) is None


def test_int8_ops_qsoftmax_blocks_qmatmul_weights_and_lut():
    s = {"x": (1, 4, 8, 8), "y": (1, 4, 8, 8)}
    sm = Node("ef.QSoftmax", "q", ("x",), ("y",), {"row": 8})
    assert _rule(sm, s, [2]) == ([2], [2])
    assert _rule(sm, s, [3]) is None   # a row inside the softmax block
    w = {"w": np.zeros((6, 8), np.int8)}
    qm = Node("ef.QMatMul", "m", ("x", "w"), ("y",))
    assert _rule(qm, {"x": (1, 8, 8), "y": (1, 8, 6)}, [1, None], w) == ([1, None], [1])
    assert _rule(qm, {"x": (1, 8, 8), "y": (1, 8, 6)}, [2, None], w) is None   # the K dim
    lut = Node("ef.LUT", "l", ("x", "t"), ("y",))
    assert _rule(lut, {**s, "t": (256,)}, [1, None]) == ([1, None], [1])


def test_softmax_before_opset_13_flattens_the_trailing_axes():
    s = {"x": (1, 8, 6), "y": (1, 8, 6)}
    sm = Node("Softmax", "s", ("x",), ("y",), {"axis": 1})
    assert _rule(sm, s, [2], opset=11) is None    # axis 1 flattens [1:]: rows at 2 mix
    assert _rule(sm, s, [0], opset=11) == ([0], [0])


def test_castlike_rows_come_from_its_data_input_never_from_the_type_donor():
    s = {"x": (1, 8, 6), "like": (1, 8, 6), "alpha": (), "a": (), "y": (1, 8, 6)}
    cast = Node("CastLike", "c", ("x", "like"), ("y",))
    assert _rule(cast, s, [1, None]) == ([1, None], [1])   # the donor read whole
    assert _rule(cast, s, [1, 1]) == ([1, 1], [1])         # or by rows, as the loop makes it
    # The expanded ONNX functions' alpha = CastLike(alpha, X): X's rows give the scalar none
    # (as a broadcast operand it got row axis -2 of a rank-0 output: row_loops' IndexError).
    assert _rule(Node("CastLike", "c", ("alpha", "x"), ("a",)), s, [None, 1]) is None


def test_row_loops_leave_a_castlike_of_a_scalar_outside_the_loop():
    from edgeformer.export.passes.row_loop import ROW_LOOP, row_loops

    # LeakyRelu as onnx's function body writes it: y = Where(x < 0, CastLike(alpha, x) * x, x).
    nodes = [Node("Relu", "r", ("in",), ("x",)),
             Node("CastLike", "cl", ("alpha", "x"), ("a",)),
             Node("Mul", "m", ("a", "x"), ("y",))]
    g = _g(nodes, {"in": (1, 8, 6), "x": (1, 8, 6), "a": (), "y": (1, 8, 6)},
           {"alpha": np.asarray(0.1, np.float32)})
    g = g.replace(inputs=("in",), outputs=("y",))
    out = row_loops(g)
    loops = [n for n in out.nodes if n.op == ROW_LOOP]
    assert [n.op for n in loops[0].attrs["body"].nodes] == ["Relu"]
    assert "CastLike" in [n.op for n in out.nodes]   # outside, after the loop that makes x
