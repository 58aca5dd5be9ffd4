"""int8_rowwise: Softmax / LayerNorm (and LayerNorm + token mean) between int8 tensors become
ef.QSoftmax / ef.QLayerNorm with a row-sized float scratch, within one step of onnxruntime."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.int8_rowwise import int8_rowwise
from tests.unit.int8_helpers import (QDQBuilder, assert_valid, c_outputs, float_activations,
                                     ort_outputs, steps_report)

SEED = 0  # provenance: inputs, gamma and beta from numpy default_rng(SEED)
OUT = [(1 / 255, -128), (1 / 255, -128), (0.03, -4), (0.01, 12)]   # output (scale, zp)


def _model():
    rng = np.random.default_rng(SEED)
    b = QDQBuilder()
    s = b.qdq("s", 0.015, -2)                                        # (1, 2, 8, 16) scores
    x = b.qdq("x", 0.022, -1)                                        # (1, 8, 16) tokens
    gamma = b.const(1 + 0.1 * rng.standard_normal(16))
    beta = b.const(0.1 * rng.standard_normal(16))
    ln = b.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=1e-5)
    ln2 = b.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=1e-5)
    pooled = b.op("ReduceMean", ln2, axes=[1], keepdims=0)           # (1, 16)
    outs = [b.qdq(b.op("Softmax", s, axis=-1), *OUT[0]),
            b.qdq(b.op("Softmax", b.op("Mul", s, b.const(0.25)), axis=-1), *OUT[1]),
            b.qdq(ln, *OUT[2]), b.qdq(pooled, *OUT[3])]
    return b.model({"s": (1, 2, 8, 16), "x": (1, 8, 16)}, outs)


def test_rowwise_ops_run_on_int8(tmp_path):
    model = _model()
    g = int8_rowwise(load_onnx(model))
    assert_valid(g)
    assert float_activations(g) == []
    fused = [n for n in g.nodes if n.op.startswith("ef.")]
    assert sorted(n.op for n in fused) == ["ef.QLayerNorm", "ef.QLayerNorm", "ef.QSoftmax",
                                           "ef.QSoftmax"]
    assert {n.attrs["scratch_bytes"] for n in fused} == {64, 128}   # a row; two when pooling
    rng = np.random.default_rng(SEED + 1)
    feeds = {"s": (rng.standard_normal((40, 1, 2, 8, 16)) * 0.6).astype(np.float32),
             "x": (rng.standard_normal((40, 1, 8, 16)) * 0.8).astype(np.float32)}
    want = ort_outputs(model, feeds)
    got = c_outputs(g, list(feeds.values()), tmp_path)
    for k, (gw, ww) in enumerate(zip(got, want)):
        err = steps_report(gw, ww, OUT[k][0], 1.0)
        assert err is None, f"output {k}: {err}"


def test_layernorm_with_a_float_reader_is_left_alone():
    b = QDQBuilder()
    ln = b.op("LayerNormalization", b.qdq("x", 0.02, 0), b.const(np.ones(4)), axis=-1)
    g = int8_rowwise(load_onnx(b.model({"x": (2, 4)}, [ln])))   # float output: no Q
    assert [n.op for n in g.nodes].count("LayerNormalization") == 1
