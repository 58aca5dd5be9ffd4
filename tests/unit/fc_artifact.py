"""A tiny int8 artifact made by the production lowering (pipeline.lower_and_emit): x (1, 8) ->
Q/DQ -> MatMul with int8 weights -> Q/DQ at scale 0.05 -> logits (1, 4). Weights: numpy
default_rng(7) standard normal, quantised at 0.01. Shared by the artifact and verify tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.fsio import write_json

OUT_SCALE = 0.05


def qdq_fc(path: Path) -> Path:
    w = np.random.default_rng(7).standard_normal((8, 4)).astype(np.float32)
    inits = [nh.from_array(np.float32(0.02), "s_in"), nh.from_array(np.int8(0), "z_in"),
             nh.from_array(np.float32(OUT_SCALE), "s_out"), nh.from_array(np.int8(0), "z_out"),
             nh.from_array(np.float32(0.01), "s_w"), nh.from_array(np.int8(0), "z_w"),
             nh.from_array(np.clip(np.round(w / 0.01), -127, 127).astype(np.int8), "w_q")]
    nodes = [h.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="q_in"),
             h.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"], name="dq_in"),
             h.make_node("DequantizeLinear", ["w_q", "s_w", "z_w"], ["wd"], name="dq_w"),
             h.make_node("MatMul", ["xd", "wd"], ["y"], name="fc"),
             h.make_node("QuantizeLinear", ["y", "s_out", "z_out"], ["yq"], name="q_out"),
             h.make_node("DequantizeLinear", ["yq", "s_out", "z_out"], ["logits"], name="dq_out")]
    g = h.make_graph(nodes, "fc", [h.make_tensor_value_info("x", T.FLOAT, [1, 8])],
                     [h.make_tensor_value_info("logits", T.FLOAT, [1, 4])], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(path))
    return path


def make_artifact(art: Path, io_dtype: str = "float32", name: str | None = "kws") -> Path:
    """ART with model.int8.onnx, plan.json, c/ and export.json as `edgeformer export` writes them
    (no dataset: verify draws random(seed=0) inputs)."""
    from edgeformer.export.pipeline import lower_and_emit

    art.mkdir(parents=True)
    ref = qdq_fc(art / "model.int8.onnx")
    _plan, signature = lower_and_emit(art, ref, "native", name=name, io_dtype=io_dtype)
    write_json(art / "export.json", {"source": {"kind": "preset", "label": "unit-fc"}, "quantize": "int8",
                                     "backend": "native", "dataset": None, "streaming": False,
                                     "reference": "model.int8.onnx", "name": name, "io_dtype": io_dtype,
                                     "signature": signature})
    return art
