"""int8_matmul_aa: Q(MatMul(DQ(a), DQ(b))) with two int8 activations -> ef.QMatMulAA (int32
accumulation with both zero points, fixed-point requantisation), within one step of
onnxruntime; batched 4-D and broadcast batches."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.int8_matmul_aa import int8_matmul_aa
from tests.unit.int8_helpers import (QDQBuilder, assert_valid, c_outputs, float_activations,
                                     ort_outputs, steps_report)

SEED = 0  # provenance: inputs and weights from numpy default_rng(SEED)
OUT = [(0.015, -2), (0.004, -4), (0.02, 3)]


def _model():
    rng = np.random.default_rng(SEED)
    b = QDQBuilder()
    q = b.qdq("q", 0.005, 0)                                  # (1, 2, 8, 16)
    k = b.qdq("k", 0.021, 2)                                  # (1, 2, 16, 8): K transposed
    p = b.qdq("p", 1 / 255, -128)                             # (1, 2, 8, 8): probabilities
    v = b.qdq("v", 0.021, 2)                                  # (1, 2, 8, 16)
    m = b.qdq("m", 0.03, 5)                                   # (16, 8): broadcast batch
    w = b.dq(b.const(rng.integers(-127, 128, (8, 4)), np.int8), 0.01, 0)   # constant weight
    outs = [b.qdq(b.op("MatMul", q, k), *OUT[0]), b.qdq(b.op("MatMul", p, v), *OUT[1]),
            b.qdq(b.op("MatMul", q, m), *OUT[2])]
    outs.append(b.qdq(b.op("MatMul", p, w), 0.02, 0))        # fold_qdq's, not ours
    return b.model({"q": (1, 2, 8, 16), "k": (1, 2, 16, 8), "p": (1, 2, 8, 8),
                    "v": (1, 2, 8, 16), "m": (16, 8)}, outs)


def test_activation_matmuls_run_on_int8(tmp_path):
    model = _model()
    g = int8_matmul_aa(load_onnx(model))
    assert_valid(g)
    assert [n.op for n in g.nodes].count("ef.QMatMulAA") == 3
    assert [n.op for n in g.nodes].count("MatMul") == 1     # the constant-weight one
    assert all(g.producer(t).op in ("DequantizeLinear", "MatMul") for t in float_activations(g))
    rng = np.random.default_rng(SEED + 1)
    shapes = {"q": (1, 2, 8, 16), "k": (1, 2, 16, 8), "p": (1, 2, 8, 8), "v": (1, 2, 8, 16),
              "m": (16, 8)}
    feeds = {n: (rng.standard_normal((24, *s)) * 0.5).astype(np.float32) for n, s in shapes.items()}
    feeds["p"] = rng.uniform(0, 1, (24, *shapes["p"])).astype(np.float32)
    want = ort_outputs(model, feeds)
    got = c_outputs(g, list(feeds.values()), tmp_path)
    for k, (gw, ww) in enumerate(zip(got[:3], want[:3])):
        err = steps_report(gw, ww, OUT[k][0], 1.0)
        assert err is None, f"output {k}: {err}"
