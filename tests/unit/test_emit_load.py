"""Loader errors (unsupported op, dynamic shape, malformed file) and warning-free C."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.errors import UserError
from edgeformer.export.emit import supported_ops
from edgeformer.export.load import load_onnx
from edgeformer.export.memory import reshape_aliases
from edgeformer.runtime.host import find_cc
from tests.native_helpers import emit_graph


def _one(op, x_dims=(2, 3), **attrs):
    g = h.make_graph([h.make_node(op, ["x"], ["y"], name="n0", **attrs)], "t",
                     [h.make_tensor_value_info("x", T.FLOAT, list(x_dims))],
                     [h.make_tensor_value_info("y", T.FLOAT, list(x_dims))])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_unsupported_op_names_op_node_and_supported_list():
    with pytest.raises(UserError) as e:
        load_onnx(_one("Hardmax"))
    msg = str(e.value)
    assert "unsupported op Hardmax (node n0)" in msg
    assert str(supported_ops()) in msg


def test_dynamic_input_dim_is_refused():
    with pytest.raises(UserError, match=r"input x has a dynamic dimension 0 \('batch'\).*fixed"):
        load_onnx(_one("Relu", x_dims=("batch", 3)))


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf\xff\xff")
    with pytest.raises(UserError, match="bad.onnx is not a valid ONNX model"):
        load_onnx(bad)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such ONNX file"):
        load_onnx(tmp_path / "nope.onnx")


def test_invalid_graph_fails_the_checker():
    g = h.make_graph([h.make_node("Relu", ["nowhere"], ["y"])], "t",
                     [h.make_tensor_value_info("x", T.FLOAT, [2])],
                     [h.make_tensor_value_info("y", T.FLOAT, [2])])
    with pytest.raises(UserError, match="is not a valid ONNX model"):
        load_onnx(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]))


def _mlp():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    nodes = [h.make_node("MatMul", ["x", "w"], ["a"]), h.make_node("Gelu", ["a"], ["b"]),
             h.make_node("Flatten", ["b"], ["y"], axis=1)]
    g = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", T.FLOAT, [2, 3, 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, [2, 12])], [nh.from_array(w, "w")])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 20)])


def test_alias_hints_and_shapes():
    graph = load_onnx(_mlp())
    assert reshape_aliases(graph) == {"y": "b"}
    assert graph.tensors["a"].shape == (2, 3, 4) and graph.tensors["w"].is_const


def test_emitted_model_is_warning_free_c99(tmp_path):
    paths = emit_graph(load_onnx(_mlp()), tmp_path)
    text = (tmp_path / "model.c").read_text()
    assert "Do not edit" in text and "EF_PROFILE_BEGIN(0)" in text
    assert "in place: output aliases input" in text  # Flatten planned zero-copy
    assert "#define EF_ARENA_BYTES" in (tmp_path / "model.h").read_text()
    sources = [str(p) for p in paths if p.suffix == ".c"]
    r = subprocess.run([find_cc(), "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2",
                        "-c", *sources], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
