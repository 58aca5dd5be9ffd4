"""int8_binary: Q(DQ(a) op DQ(b)) -> ef.QAdd / ef.QSub / ef.QMul, bit-exact against
onnxruntime (same float32 steps per element), with broadcasting and int8 constants."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.int8_binary import int8_binary
from tests.unit.int8_helpers import (QDQBuilder, assert_valid, c_outputs, float_activations,
                                     ort_outputs)

SEED = 0  # provenance: inputs and the bias constant from numpy default_rng(SEED)


def _model():
    rng = np.random.default_rng(SEED)
    b = QDQBuilder()
    x = b.qdq("x", 0.021, -2)                                    # (1, 8, 6)
    r = b.qdq("r", 0.017, 3)                                     # (1, 8, 6): residual
    bias = b.dq(b.const(rng.integers(-128, 128, 6), np.int8), 0.0009, -7)   # (6,) int8 const
    row = b.qdq("row", 0.05, 0)                                  # (1, 1, 6): broadcast
    outs = [b.qdq(b.op("Add", x, r), 0.03, -1),
            b.qdq(b.op("Add", bias, x), 0.022, 1),
            b.qdq(b.op("Sub", x, row), 0.04, 4),
            b.qdq(b.op("Mul", row, r), 0.01, -20)]
    return b.model({"x": (1, 8, 6), "r": (1, 8, 6), "row": (1, 1, 6)}, outs)


def test_binary_ops_run_on_int8(tmp_path):
    model = _model()
    g = int8_binary(load_onnx(model))
    assert_valid(g)
    assert float_activations(g) == []
    assert sorted(n.op for n in g.nodes if n.op.startswith("ef.")) == [
        "ef.QAdd", "ef.QAdd", "ef.QMul", "ef.QSub"]
    rng = np.random.default_rng(SEED + 1)
    feeds = {"x": rng.standard_normal((48, 1, 8, 6)).astype(np.float32) * 2,
             "r": rng.standard_normal((48, 1, 8, 6)).astype(np.float32),
             "row": rng.standard_normal((48, 1, 1, 6)).astype(np.float32) * 3}
    want = ort_outputs(model, feeds)
    got = c_outputs(g, list(feeds.values()), tmp_path)
    for k, (gw, ww) in enumerate(zip(got, want)):
        bad = np.flatnonzero(gw.ravel() != ww.ravel())
        assert bad.size == 0, (f"output {k} at {bad[0]}: got {gw.ravel()[bad[0]]}, want "
                               f"{ww.ravel()[bad[0]]}; {bad.size} of {ww.size} differ")


def test_scalar_constant_operand_is_left_to_the_lut_pass_order():
    """int8_binary itself takes a constant operand too; LOWERING runs int8_lut first."""
    from edgeformer.export.passes import LOWERING
    from edgeformer.export.passes.int8_lut import int8_lut
    assert LOWERING.index(int8_lut) < LOWERING.index(int8_binary)
