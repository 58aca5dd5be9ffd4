"""aa_trans_b: an ef.QMatMulAA fed by a Transpose reads bᵀ from the same Transpose (last two
axes swapped) and computes the same int8 output as before the pass (bit-exact in C), for
attention's two shapes: Kᵀ from (t, h, d) and V from (t, h, d)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.aa_trans_b import aa_trans_b
from edgeformer.export.passes.int8_matmul_aa import int8_matmul_aa
from edgeformer.export.passes.int8_moves import int8_moves
from tests.unit.int8_helpers import QDQBuilder, assert_valid, c_outputs

SEED = 3  # provenance: inputs from numpy default_rng(SEED)
SHAPES = {"q": (1, 2, 8, 16), "k": (1, 8, 2, 16), "p": (1, 2, 8, 8), "v": (1, 8, 2, 16)}


def _model():
    b = QDQBuilder()
    q = b.qdq("q", 0.005, 0)
    k = b.qdq("k", 0.021, 2)
    p = b.qdq("p", 1 / 255, -128)
    v = b.qdq("v", 0.021, 2)
    kt = b.qdq(b.op("Transpose", k, perm=[0, 2, 3, 1]), 0.021, 2)     # (1, 2, 16, 8)
    vh = b.qdq(b.op("Transpose", v, perm=[0, 2, 1, 3]), 0.021, 2)     # (1, 2, 8, 16)
    outs = [b.qdq(b.op("MatMul", q, kt), 0.015, -2), b.qdq(b.op("MatMul", p, vh), 0.004, -4)]
    return b.model(SHAPES, outs)


def _lowered():
    return int8_matmul_aa(int8_moves(load_onnx(_model())))


def test_transposes_swap_and_matmuls_take_b_transposed():
    g0 = _lowered()
    g = aa_trans_b(g0)
    assert_valid(g)
    mms = [n for n in g.nodes if n.op == "ef.QMatMulAA"]
    assert len(mms) == 2 and all(n.attrs["trans_b"] == 1 for n in mms)
    perms = [n.attrs["perm"] for n in g.nodes if n.op == "Transpose" and n.outputs[0] in
             {m.inputs[1] for m in mms}]
    assert sorted(map(tuple, perms)) == [(0, 2, 1, 3), (0, 2, 3, 1)]
    assert [g.tensors[m.inputs[1]].shape for m in mms] == [(1, 2, 8, 16), (1, 2, 16, 8)]
    assert aa_trans_b(g) is g or aa_trans_b(g).nodes == g.nodes   # idempotent
    assert all("trans_b" not in n.attrs for n in g0.nodes)         # pure: input untouched


def test_same_int8_output_as_without_the_pass(tmp_path):
    rng = np.random.default_rng(SEED)
    feeds = [(rng.standard_normal((6, *s)) * 0.5).astype(np.float32) for s in SHAPES.values()]
    feeds[2] = rng.uniform(0, 1, (6, *SHAPES["p"])).astype(np.float32)
    g0 = _lowered()
    want = c_outputs(g0, feeds, tmp_path / "before")
    got = c_outputs(aa_trans_b(g0), feeds, tmp_path / "after")
    for w, o in zip(want, got):
        np.testing.assert_array_equal(o, w)
