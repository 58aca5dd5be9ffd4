"""fold_qdq on an onnxruntime QDQ model: DQ->{Conv,Gemm,MatMul}->Q become ef.Q* int8 nodes,
and the built C matches onnxruntime's int8 model within one output quantisation step."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.load import load_onnx
from edgeformer.export.passes.fold_qdq import fold_qdq, quantize_multiplier
from edgeformer.runtime.host import build_host, run_host
from tests.native_helpers import emit_graph

SEED = 0  # provenance: weights, calibration and test inputs from numpy default_rng(SEED)


def _float_model():
    rng = np.random.default_rng(SEED)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((10, 128)) * 0.1).astype(np.float32)
    b2 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    w3 = (rng.standard_normal((10, 6)) * 0.3).astype(np.float32)
    nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2],
                         kernel_shape=[3, 3]),
             h.make_node("Relu", ["c"], ["r"]), h.make_node("Flatten", ["r"], ["f"]),
             h.make_node("Gemm", ["f", "w2", "b2"], ["g"], transB=1),
             h.make_node("MatMul", ["g", "w3"], ["y"])]
    inits = [nh.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"),
                                              (w3, "w3"))]
    g = h.make_graph(nodes, "q", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 6])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory):
    ortq = pytest.importorskip("onnxruntime.quantization")
    d = tmp_path_factory.mktemp("qdq")
    onnx.save(_float_model(), d / "f.onnx")
    rng = np.random.default_rng(SEED)
    calib = iter([{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(16)])

    class Reader(ortq.CalibrationDataReader):
        def get_next(self):
            return next(calib, None)

    ortq.quantize_static(str(d / "f.onnx"), str(d / "q.onnx"), Reader(),
                         quant_format=ortq.QuantFormat.QDQ, per_channel=True,
                         activation_type=ortq.QuantType.QInt8, weight_type=ortq.QuantType.QInt8)
    return d / "q.onnx"


def test_quantize_multiplier_round_trips():
    for m in (0.5, 0.75, 1e-4, 0.999999999, 3.0):
        mult, shift = quantize_multiplier(m)
        assert 1 << 30 <= mult < 1 << 31
        assert abs(mult * 2.0 ** (shift - 31) - m) <= m * 2 ** -30


def test_fold_makes_int8_nodes(qdq_model):
    g = fold_qdq(load_onnx(qdq_model))
    ops = [n.op for n in g.nodes]
    assert {"ef.QConv", "ef.QGemm", "ef.QMatMul"} <= set(ops)
    assert not {"Conv", "Gemm", "MatMul"} & set(ops)
    assert all(t in g.tensors for n in g.nodes for t in n.inputs if t)


def test_fused_c_matches_onnxruntime_within_one_step(qdq_model, tmp_path):
    from edgeformer.export.onnx_check import session   # the QDQ graph as written (no QLinear fusion)
    graph = load_onnx(qdq_model)
    emit_graph(fold_qdq(graph), tmp_path / "c")
    exe = build_host(tmp_path / "c", tmp_path / "model.exe", extra_cflags=("-O1", "-Werror"))
    x = np.random.default_rng(SEED + 1).standard_normal((40, 1, 3, 8, 8)).astype(np.float32)
    sess = session(str(qdq_model))
    want = np.stack([sess.run(None, {"x": xi})[0] for xi in x])
    (got,) = run_host(exe, [x])
    steps = np.abs(got - want) / float(graph.tensors["y_scale"].data)
    bad = np.flatnonzero(steps > 1.0 + 1e-3)
    assert bad.size == 0, (f"at {bad[0]}: got {got.ravel()[bad[0]]}, want {want.ravel()[bad[0]]}; "
                           f"{bad.size} of {steps.size} differ by more than one step")
