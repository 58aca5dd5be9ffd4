"""int8_lut: an elementwise float island fed by one int8 tensor becomes a 256-entry table,
bit-exact against onnxruntime on every int8 value."""
from __future__ import annotations

import numpy as np

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.int8_lut import int8_lut
from tests.unit.int8_helpers import (QDQBuilder, assert_valid, c_outputs, float_activations,
                                     ort_outputs)

S, Z = 0.04, 5


def _model():
    b = QDQBuilder()
    x = b.qdq("x", S, Z)                                                  # (1, 256)
    erf = b.op("Erf", b.op("Div", x, b.const(np.sqrt(2.0))))              # GELU, as exported
    gelu = b.op("Mul", b.op("Mul", x, b.op("Add", erf, b.const(1.0))), b.const(0.5))
    scale = b.dq(b.const(127, np.int8), 0.001, -128)                      # DQ of a scalar const
    sig = b.op("Reshape", b.op("Sigmoid", x), b.const([1, 16, 16], np.int64))
    outs = [b.qdq(gelu, 0.012, -114), b.qdq(b.op("Mul", x, scale), 0.003, 0),
            b.qdq(sig, 1 / 255, -128)]
    two = b.op("Add", x, b.qdq("x2", 0.02, 0))                            # two int8 inputs
    outs.append(b.qdq(two, 0.05, 0))
    return b.model({"x": (1, 256), "x2": (1, 256)}, outs)


def test_islands_become_tables():
    g = int8_lut(load_onnx(_model()))
    assert_valid(g)
    ops = [n.op for n in g.nodes]
    assert ops.count("ef.LUT") == 3
    assert not {"Erf", "Div", "Sigmoid", "Reshape"} & set(ops)
    assert "Add" in ops   # two different int8 inputs: not a table
    luts = [n for n in g.nodes if n.op == "ef.LUT"]
    assert {g.tensors[n.inputs[0]].dtype for n in luts} == {"int8"}
    fl = float_activations(g)
    assert all(g.producer(t).op == "DequantizeLinear" or g.producer(t).op == "Add" for t in fl)


def test_tables_match_onnxruntime_on_all_256_values(tmp_path):
    model = _model()
    g = int8_lut(load_onnx(model))
    v = np.arange(-128, 128, dtype=np.float32)
    x = ((v - Z) * np.float32(S)).astype(np.float32).reshape(1, 1, 256)   # Q(x) == v exactly
    x2 = np.random.default_rng(0).standard_normal((1, 1, 256)).astype(np.float32)
    want = ort_outputs(model, {"x": x, "x2": x2})
    got = c_outputs(g, [x, x2], tmp_path)
    for k, (gw, ww) in enumerate(zip(got, want)):
        bad = np.flatnonzero(gw.ravel() != ww.ravel())
        assert bad.size == 0, (f"output {k} at {bad[0]}: got {gw.ravel()[bad[0]]}, want "
                               f"{ww.ravel()[bad[0]]}; {bad.size} of {ww.size} differ")
