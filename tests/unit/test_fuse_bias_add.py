"""fuse_bias_add: QMatMul followed by a QAdd of an int8 per-channel constant becomes one
QMatMul with the add in its epilogue — bit-exact against onnxruntime (both roundings kept)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes import LOWERING, run
from edgeformer.export.passes.fuse_bias_add import fuse_bias_add
from tests.unit.int8_helpers import QDQBuilder, assert_valid, c_outputs, ort_outputs

SEED = 3  # provenance: weights, bias and inputs from numpy default_rng(SEED)


def _model():
    """x (1,8,16) -> MatMul W (16x24, per-channel int8) -> Q -> DQ -> Add(int8 bias) -> Q,
    the way onnxruntime's QDQ quantiser writes a 3-D linear layer."""
    rng = np.random.default_rng(SEED)
    b = QDQBuilder()
    x = b.qdq("x", 0.02, -3)
    w_scale = (rng.random(24) * 0.01 + 0.002).astype(np.float32)
    wq = b.const(rng.integers(-127, 128, (16, 24)), np.int8)
    w = b.op("DequantizeLinear", wq, b.const(w_scale), b.const(np.zeros(24), np.int8), axis=1)
    mm = b.qdq(b.op("MatMul", x, w), 0.05, 2)
    bias = b.dq(b.const(rng.integers(-128, 128, 24), np.int8), 0.004, -5)
    out = b.qdq(b.op("Add", mm, bias), 0.06, 1)
    return b.model({"x": (1, 8, 16)}, [out])


def test_bias_add_joins_the_matmul_bit_exactly(tmp_path):
    model = _model()
    lowered = run(load_onnx(model), LOWERING)
    before = [n.op for n in lowered.nodes]
    assert "ef.QAdd" in before, before
    g = fuse_bias_add(lowered)
    assert_valid(g)
    ops = [n.op for n in g.nodes]
    assert "ef.QAdd" not in ops and len(ops) == len(before) - 1, ops
    rng = np.random.default_rng(SEED + 1)
    feeds = {"x": (rng.standard_normal((40, 1, 8, 16)) * 2).astype(np.float32)}
    want = ort_outputs(model, feeds)[0]
    got = c_outputs(g, list(feeds.values()), tmp_path)[0]
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, (f"at {bad[0]}: got {got.ravel()[bad[0]]}, want {want.ravel()[bad[0]]}; "
                           f"{bad.size} of {want.size} differ")


def test_a_matmul_read_twice_is_left_alone():
    b = QDQBuilder()
    x = b.qdq("x", 0.02, 0)
    wq = b.const(np.ones((4, 4)), np.int8)
    w = b.op("DequantizeLinear", wq, b.const(np.full(4, 0.01)), b.const(np.zeros(4), np.int8), axis=1)
    mm = b.qdq(b.op("MatMul", x, w), 0.05, 0)
    bias = b.dq(b.const(np.arange(4), np.int8), 0.004, 0)
    out1 = b.qdq(b.op("Add", mm, bias), 0.06, 0)
    out2 = b.qdq(b.op("Relu", mm), 0.05, 0)
    g = run(load_onnx(b.model({"x": (1, 2, 4)}, [out1, out2])), LOWERING)
    assert [n.op for n in fuse_bias_add(g).nodes] == [n.op for n in g.nodes]
