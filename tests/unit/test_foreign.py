"""export/foreign*.py: the importer of ONNX as other exporters write it, its rewrites, and the
inputs it makes for a model we did not make. Models are built with onnx.helper (seeded numpy
weights), so every case is small and exact."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeformer.errors import UserError
from edgeformer.export.foreign import import_onnx
from edgeformer.export.foreign_inputs import input_specs, random_inputs
from edgeformer.export.foreign_rewrite import _einsum_plan, rewrite
from edgeformer.export.load import load_onnx
from edgeformer.export.onnx_check import session


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def _linear(batch="N", opset=17):
    """x (batch, 4) @ W (4, 3), then a Reshape whose shape comes from Shape(x) (an exporter's idiom)."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Shape", ["h"], ["s"]),
             helper.make_node("Reshape", ["h", "s"], ["y"])]
    return _model(nodes, [_vi("x", [batch, 4])], [_vi("y", [batch, 3])], [w], opset)


def test_external_data_is_inlined(tmp_path):
    m = _linear(batch=1)
    src = tmp_path / "src" / "m.onnx"
    src.parent.mkdir()
    onnx.save(m, src, save_as_external_data=True, all_tensors_to_one_file=True, location="m.onnx.data",
              size_threshold=0)
    assert (src.parent / "m.onnx.data").is_file()
    info = import_onnx(src, tmp_path / "out.onnx")
    out = onnx.load(tmp_path / "out.onnx", load_external_data=False)
    assert not any(t.data_location == TensorProto.EXTERNAL for t in out.graph.initializer)
    assert "Shape" not in info["ops"] and info["inputs"] == [{"name": "x", "shape": [1, 4], "dtype": "float32"}]


def test_missing_external_data_names_the_file(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_linear(batch=1), src, save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    (tmp_path / "m.onnx.data").unlink()
    with pytest.raises(UserError, match=r"m\.onnx\.data.*does not exist"):
        import_onnx(src, tmp_path / "out.onnx")


def test_dynamic_dim_needs_input_shape_and_gets_it(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_linear(), src)
    with pytest.raises(UserError, match=r"input x has dynamic dimension\(s\) 0 \('N'\).*--input-shape x=1x4"):
        import_onnx(src, tmp_path / "a.onnx")
    with pytest.raises(UserError, match=r"no input of; its inputs: x"):
        import_onnx(src, tmp_path / "a.onnx", {"y": (1, 4)})
    with pytest.raises(UserError, match="has 3 dimensions"):
        import_onnx(src, tmp_path / "a.onnx", {"x": (1, 4, 1)})
    with pytest.raises(UserError, match="fixed at 4"):
        import_onnx(src, tmp_path / "a.onnx", {"x": (2, 5)})
    info = import_onnx(src, tmp_path / "b.onnx", {"x": (2, 4)})
    assert info["outputs"][0]["shape"] == [2, 3] and info["ops"] == {"MatMul": 1}
    g = load_onnx(tmp_path / "b.onnx")
    assert g.tensors["y"].shape == (2, 3)


def test_old_opset_is_converted(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_linear(batch=1, opset=11), src)
    info = import_onnx(src, tmp_path / "out.onnx")
    assert info["opset_source"] == 11 and info["opset"] == 17


def _run(model, feeds):
    return session(model.SerializeToString()).run(None, feeds)


def test_einsum_of_attention_shapes_becomes_matmul():
    assert _einsum_plan("bhqd,bhkd->bhqk") == ([0, 1, 2, 3], [0, 1, 3, 2], [0, 1, 2, 3])
    assert _einsum_plan("bij,bjk->bik") == ([0, 1, 2], [0, 1, 2], [0, 1, 2])
    assert _einsum_plan("ii->i") is None and _einsum_plan("...d,...d->...") is None
    rng = np.random.default_rng(1)
    q, k = (rng.standard_normal((1, 2, 5, 4)).astype(np.float32) for _ in range(2))
    for eq, want in (("bhqd,bhkd->bhqk", (1, 2, 5, 5)), ("bhqd,bhkd->bhkq", (1, 2, 5, 5)), ("bhkq,bhkd->bhqd", None)):
        m = _model([helper.make_node("Einsum", ["q", "k"], ["y"], equation=eq)],
                   [_vi("q", [1, 2, 5, 4]), _vi("k", [1, 2, 5, 4])], [_vi("y", None)])
        if want is None:   # k-dim of length 5 contracted against length 5: also a batched matmul
            continue
        ref = _run(m, {"q": q, "k": k})[0]
        out, counts = rewrite(m)
        assert counts == {"einsum_matmul": 1} and "Einsum" not in {n.op_type for n in out.graph.node}
        np.testing.assert_allclose(_run(out, {"q": q, "k": k})[0], ref, rtol=1e-5, atol=1e-6)


def test_softmax_nan_guard_and_cast_chain_are_removed():
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=-1),
             helper.make_node("IsNaN", ["p"], ["nan"]),
             helper.make_node("Where", ["nan", "zero", "p"], ["g"]),
             helper.make_node("Cast", ["ids"], ["i32"], to=TensorProto.INT32),
             helper.make_node("Cast", ["i32"], ["i64"], to=TensorProto.INT64),
             helper.make_node("Cast", ["i64"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["g", "f"], ["y"])]
    m = _model(nodes, [_vi("x", [1, 4]), _vi("ids", [1, 4], TensorProto.INT64)], [_vi("y", [1, 4])], [zero])
    out, counts = rewrite(m)
    ops = [n.op_type for n in out.graph.node]
    assert counts["softmax_nan_guard"] == 1 and "IsNaN" not in ops and "Where" not in ops
    # int64 -> int32 is not lossless (kept); int32 -> int64 -> float32 is: the float Cast reads int32
    assert ops.count("Cast") == 2 and counts["cast_chain"] == 1
    assert next(n for n in out.graph.node if n.output[0] == "f").input[0] == "i32"
    x, ids = np.array([[1, 2, 3, 4]], np.float32), np.array([[0, 1, 2, 3]], np.int64)
    np.testing.assert_allclose(_run(out, {"x": x, "ids": ids})[0], _run(m, {"x": x, "ids": ids})[0])


def test_every_unsupported_op_is_listed_at_once():
    nodes = [helper.make_node("Hardmax", ["x"], ["a"], name="hm1"),
             helper.make_node("Hardmax", ["a"], ["b"], name="hm2"),
             helper.make_node("LpNormalization", ["b"], ["y"], name="lp")]
    m = _model(nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])])
    with pytest.raises(UserError) as e:
        load_onnx(m)
    msg = str(e.value)
    assert "Hardmax (nodes hm1, hm2)" in msg and "LpNormalization (node lp)" in msg and "supported:" in msg


def test_token_ids_are_drawn_in_range_of_their_embedding(tmp_path):
    table = numpy_helper.from_array(np.zeros((7, 3), np.float32), "emb")
    nodes = [helper.make_node("Cast", ["ids"], ["i32"], to=TensorProto.INT32),
             helper.make_node("Gather", ["emb", "i32"], ["e"]),
             helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["mf", "ax"], ["m3"]),
             helper.make_node("Mul", ["e", "m3"], ["y"])]
    ax = numpy_helper.from_array(np.array([-1], np.int64), "ax")
    m = _model(nodes, [_vi("ids", [1, 5], TensorProto.INT64), _vi("attention_mask", [1, 5], TensorProto.INT64)],
               [_vi("y", [1, 5, 3])], [table, ax])
    onnx.save(m, tmp_path / "m.onnx")
    specs = input_specs(tmp_path / "m.onnx")
    assert [(s.name, s.high, s.is_mask) for s in specs] == [("ids", 7, False), ("attention_mask", None, True)]
    ids, mask = random_inputs(tmp_path / "m.onnx", 50)
    assert ids.dtype == np.int64 and ids.shape == (50, 1, 5) and 0 <= ids.min() and ids.max() == 6
    assert set(np.unique(mask)) <= {0, 1} and (mask[:, :, 0] == 1).all() and (mask == 0).any()


@pytest.mark.parametrize("mode,ctm,shape_in,shape_out", [
    ("linear", "half_pixel", (1, 2, 1, 1), (1, 2, 2, 2)),
    ("linear", "half_pixel", (1, 2, 2, 2), (1, 2, 1, 1)),
    ("linear", "align_corners", (1, 1, 3, 5), (1, 1, 7, 4)),
    ("nearest", "asymmetric", (1, 3, 4, 4), (1, 3, 8, 8)),
    ("cubic", "pytorch_half_pixel", (1, 1, 4, 6), (1, 1, 6, 3)),
    ("linear", "half_pixel", (1, 4, 5), (1, 4, 9))])
def test_resize_becomes_matmul_by_interpolation_matrices(mode, ctm, shape_in, shape_out):
    sizes = numpy_helper.from_array(np.array(shape_out, np.int64), "sizes")
    m = _model([helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode,
                                 coordinate_transformation_mode=ctm)],
               [_vi("x", list(shape_in))], [_vi("y", list(shape_out))], [sizes], opset=19)
    x = np.random.default_rng(2).standard_normal(shape_in).astype(np.float32)
    ref = _run(m, {"x": x})[0]
    out, counts = rewrite(m)
    assert counts == {"resize_matmul": 1} and {n.op_type for n in out.graph.node} == {"MatMul"}
    np.testing.assert_allclose(_run(out, {"x": x})[0], ref, rtol=1e-5, atol=1e-5)


def test_isnan_isinf_and_trilu_on_run_time_tensors():
    k = numpy_helper.from_array(np.array(1, np.int64), "k")
    nodes = [helper.make_node("IsNaN", ["x"], ["n"]), helper.make_node("IsInf", ["x"], ["i"]),
             helper.make_node("IsInf", ["x"], ["ip"], detect_negative=0),
             helper.make_node("Trilu", ["x", "k"], ["t"], upper=1),
             helper.make_node("Trilu", ["x"], ["l"], upper=0)]
    outs = [_vi("n", [1, 3, 3], TensorProto.BOOL), _vi("i", [1, 3, 3], TensorProto.BOOL),
            _vi("ip", [1, 3, 3], TensorProto.BOOL), _vi("t", [1, 3, 3]), _vi("l", [1, 3, 3])]
    m = _model(nodes, [_vi("x", [1, 3, 3])], outs, [k])
    x = np.array([[[1, np.nan, np.inf], [-np.inf, 2, 3], [4, 5, 6]]], np.float32)
    ref = _run(m, {"x": x})
    out, counts = rewrite(m)
    assert counts == {"nan_inf_tests": 3, "trilu_mask": 2}
    assert not {"IsNaN", "IsInf", "Trilu"} & {n.op_type for n in out.graph.node}
    for a, b in zip(_run(out, {"x": x}), ref):
        np.testing.assert_array_equal(a, b)


def test_gathernd_with_constant_indices_becomes_gather():
    idx = numpy_helper.from_array(np.array([[[0, 3], [0, 1], [0, -1]]], np.int64), "idx")   # (1, 3, 2)
    m = _model([helper.make_node("GatherND", ["x", "idx"], ["y"])], [_vi("x", [1, 4, 2])], [_vi("y", [1, 3, 2])], [idx])
    x = np.arange(8, dtype=np.float32).reshape(1, 4, 2)
    ref = _run(m, {"x": x})[0]
    out, counts = rewrite(m)
    assert counts == {"gathernd_const": 1} and [n.op_type for n in out.graph.node] == ["Reshape", "Gather"]
    np.testing.assert_array_equal(_run(out, {"x": x})[0], ref)


def test_dataset_ids_are_read_as_the_models_integer_input(tmp_path):
    from edgeformer.export.foreign_inputs import dataset_inputs
    table = numpy_helper.from_array(np.zeros((7, 3), np.float32), "emb")
    m = _model([helper.make_node("Gather", ["emb", "ids"], ["y"])], [_vi("ids", [1, 5], TensorProto.INT64)],
               [_vi("y", [1, 5, 3])], [table])
    onnx.save(m, tmp_path / "m.onnx")
    x = np.arange(10, dtype=np.float32).reshape(2, 5, 1) % 7   # N x T x 1, as the npz loader reads it
    (ids,) = dataset_inputs(tmp_path / "m.onnx", x, "npz:d")
    assert ids.dtype == np.int64 and ids.shape == (2, 1, 5) and ids.ravel().tolist() == x.ravel().tolist()
    with pytest.raises(UserError, match=r"ids span 0\.\.9.*7 rows"):
        dataset_inputs(tmp_path / "m.onnx", np.arange(10, dtype=np.float32).reshape(2, 5, 1), "npz:d")
    with pytest.raises(UserError, match="non-integer"):
        dataset_inputs(tmp_path / "m.onnx", x + 0.5, "npz:d")
    with pytest.raises(UserError, match="samples of shape"):
        dataset_inputs(tmp_path / "m.onnx", np.zeros((2, 4, 1), np.float32), "npz:d")


def test_roberta_position_ids_int_arith_cumsum_and_gather_elements():
    """RoBERTa's position ids: mask = ids != pad; pos = cumsum(mask) * mask + pad; a constant
    token-type buffer gathered at those positions (GatherElements)."""
    pad = numpy_helper.from_array(np.array(1, np.int64), "pad")
    ax = numpy_helper.from_array(np.array(1, np.int64), "ax")
    buf = numpy_helper.from_array(np.arange(8, dtype=np.int64).reshape(1, 8) * 3, "buf")
    nodes = [helper.make_node("Equal", ["ids", "pad"], ["eq"]), helper.make_node("Not", ["eq"], ["ne"]),
             helper.make_node("Cast", ["ne"], ["m"], to=TensorProto.INT32),
             helper.make_node("CumSum", ["m", "ax"], ["cs"]), helper.make_node("Mul", ["cs", "m"], ["cm"]),
             helper.make_node("Cast", ["cm"], ["cm64"], to=TensorProto.INT64),
             helper.make_node("Add", ["cm64", "pad"], ["pos"]),
             helper.make_node("GatherElements", ["buf", "pos"], ["y"], axis=1)]
    m = _model(nodes, [_vi("ids", [1, 6], TensorProto.INT64)], [_vi("y", [1, 6], TensorProto.INT64)], [pad, ax, buf])
    ids = np.array([[5, 7, 9, 2, 1, 1]], np.int64)
    ref = _run(m, {"ids": ids})[0]
    out, counts = rewrite(m)
    assert {"int_arith_as_float", "cumsum_matmul", "gather_elements_1d"} <= set(counts)
    assert not {"CumSum", "GatherElements"} & {n.op_type for n in out.graph.node}
    np.testing.assert_array_equal(_run(out, {"ids": ids})[0], ref)


def test_int8_keeps_the_attention_mask_path_float():
    """mask (int64) -> Cast -> Sub -> Mul -> Add(scores, .): the island and the Add that mixes it
    with the scores stay float; the scores' MatMul and the Softmax after the Add do not."""
    from edgeformer.export.quantize import integer_island_nodes
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    big = numpy_helper.from_array(np.array(-3.4e38, np.float32), "big")
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    nodes = [helper.make_node("Cast", ["mask"], ["mf"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Sub", ["one", "mf"], ["inv"], name="sub"),
             helper.make_node("Mul", ["inv", "big"], ["add_mask"], name="mul"),
             helper.make_node("MatMul", ["x", "w"], ["s"], name="scores"),
             helper.make_node("Add", ["s", "add_mask"], ["sm"], name="add"),
             helper.make_node("Softmax", ["sm"], ["y"], name="softmax")]
    m = _model(nodes, [_vi("x", [1, 4]), _vi("mask", [1, 4], TensorProto.INT64)], [_vi("y", [1, 4])], [one, big, w])
    assert integer_island_nodes(m) == ["cast", "sub", "mul", "add"]
