"""int8_moves: DQ -> move -> Q with identical parameters runs the move on int8 (exact), and a
Concat of differently quantised inputs requantises them by table (exact too)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.int8_moves import int8_moves
from tests.unit.int8_helpers import (QDQBuilder, assert_valid, c_outputs, float_activations,
                                     ort_outputs)

SEED = 0  # provenance: test inputs from numpy default_rng(SEED)
S, Z = 0.05, -3


def _model():
    b = QDQBuilder()
    a = b.qdq("x", S, Z)                                           # (1, 4, 6)
    t = b.qdq(b.op("Transpose", a, perm=[0, 2, 1]), S, Z)          # (1, 6, 4)
    r = b.qdq(b.op("Reshape", t, b.const([1, 24], np.int64)), S, Z)
    s = b.qdq(b.op("Slice", r, b.const([2], np.int64), b.const([20], np.int64),
                   b.const([1], np.int64)), S, Z)                  # (1, 18)
    u = b.qdq(b.op("Unsqueeze", s, b.const([0], np.int64)), S, Z)  # (1, 1, 18)
    f = b.qdq(b.op("Flatten", u, axis=1), S, Z)                    # (1, 18)
    g = b.qdq(b.op("Gather", f, b.const([5, 0, 17], np.int64), axis=1), S, Z)  # (1, 3)
    other = b.qdq("x2", 0.02, 7)                                   # (1, 5), other params
    c = b.qdq(b.op("Concat", g, other, axis=1), S, Z)              # (1, 8)
    p1, p2 = b.op("Split", c, b.const([3, 5], np.int64), axis=1, n_out=2)
    outs = [b.qdq(p1, S, Z), b.qdq(p2, S, Z)]
    return b.model({"x": (1, 4, 6), "x2": (1, 5)}, outs)


def test_moves_run_on_int8(tmp_path):
    model = _model()
    g = int8_moves(load_onnx(model))
    assert_valid(g)
    assert float_activations(g) == []
    ops = [n.op for n in g.nodes]
    assert ops.count("QuantizeLinear") == 2 and ops.count("DequantizeLinear") == 2
    assert ops.count("ef.LUT") == 1   # x2 requantised to the Concat's parameters

    rng = np.random.default_rng(SEED)
    x = (rng.standard_normal((64, 1, 4, 6)) * 3).astype(np.float32)   # saturates some
    x2 = (rng.standard_normal((64, 1, 5)) * 2).astype(np.float32)
    want = ort_outputs(model, {"x": x, "x2": x2})
    got = c_outputs(g, [x, x2], tmp_path)
    for gw, ww in zip(got, want):
        np.testing.assert_array_equal(gw, ww)


def test_requantising_move_other_than_concat_is_left_alone():
    b = QDQBuilder()
    t = b.op("Transpose", b.qdq("x", S, Z), perm=[1, 0])
    y = b.qdq(t, S * 2, Z)
    g = int8_moves(load_onnx(b.model({"x": (3, 4)}, [y])))
    assert "Transpose" in [n.op for n in g.nodes]
    assert g.tensors[next(n for n in g.nodes if n.op == "Transpose").outputs[0]].dtype == "float32"
