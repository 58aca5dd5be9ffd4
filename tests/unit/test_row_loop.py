"""Row loops (ef.RowLoop): row-axis rules per op, the fused MLP on a hand-built graph, the
attention schedule on a tiny torch ViT, and the plan they give. Each C build is compared with
onnxruntime and with the same graph emitted without the memory passes (the body runs the
same kernels on row slices, so int8 must be bit-exact)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.emit.writer import emit_c
from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.load import load_onnx
from edgeformer.export.passes import LOWERING, MEMORY, run
from edgeformer.export.passes.row_loop import ROW_LOOP, row_loops
from edgeformer.export.passes.rowaxis import ROW_RULES
from edgeformer.export.plan import make_plan
from edgeformer.runtime.host import build_host, run_host

SEED = 0  # provenance: weights and inputs from numpy default_rng(SEED)


# ---------------------------------------------------------------- rules, per op
def _graph(nodes, shapes, consts=()):
    ts = {n: Tensor(n, s, "float32") for n, s in shapes.items()}
    for n, arr in dict(consts).items():
        ts[n] = Tensor(n, arr.shape, str(arr.dtype), arr)
    return Graph(tuple(nodes), ts, (), (), {"opset": 17})


def _rule(node, shapes, known, consts=()):
    g = _graph([node], shapes, consts)
    return ROW_RULES[node.op](g, node, known)


def test_rules_layernorm_and_softmax_need_rows_outside_the_reduced_axes():
    s = {"x": (1, 8, 4), "y": (1, 8, 4), "g": (4,)}
    ln = Node("LayerNormalization", "ln", ("x", "g"), ("y",), {"axis": -1})
    assert _rule(ln, s, [1, None]) == ([1, None], [1])
    assert _rule(Node("LayerNormalization", "ln", ("x", "g"), ("y",), {"axis": 1}), s,
                 [1, None]) is None
    sm = Node("Softmax", "sm", ("x",), ("y",), {"axis": -1})
    assert _rule(sm, s, [1]) == ([1], [1])
    assert _rule(Node("Softmax", "sm", ("x",), ("y",), {"axis": 1}), s, [1]) is None
    pooled = Node("ef.QLayerNorm", "q", ("x", "g"), ("y",), {"pool_rows": 8})
    assert _rule(pooled, s, [1, None]) is None


def test_rules_matmul_rows_from_a_only():
    s = {"a": (1, 2, 8, 4), "b": (1, 2, 4, 8), "y": (1, 2, 8, 8)}
    mm = Node("MatMul", "mm", ("a", "b"), ("y",))
    assert _rule(mm, s, [2, None]) == ([2, None], [2])     # query rows, K whole
    assert _rule(mm, s, [3, None]) is None                  # K dim mixes
    assert _rule(mm, s, [None, 3]) is None                  # rows of B: whole columns out
    assert _rule(mm, s, [1, None]) == ([1, 1], [1])         # batch dim: B sliced with it


def test_rules_elementwise_broadcast_and_shape_ops():
    s = {"x": (1, 8, 4), "c": (8, 4), "s": (), "y": (1, 8, 4)}
    add = Node("Add", "a", ("x", "c"), ("y",))
    assert _rule(add, s, [1, None]) == ([1, 0], [1])        # position table sliced too
    assert _rule(Node("Mul", "m", ("x", "s"), ("y",)), s, [1, None]) == ([1, None], [1])
    tr = Node("Transpose", "t", ("x",), ("y",), {"perm": [0, 2, 1]})
    assert _rule(tr, {"x": (1, 8, 4), "y": (1, 4, 8)}, [1]) == ([1], [2])
    shp = np.asarray([1, 8, 2, 2], np.int64)
    rs = Node("Reshape", "r", ("x", "shp"), ("y",))
    assert _rule(rs, {"x": (1, 8, 4), "y": (1, 8, 2, 2)}, [1, None], {"shp": shp}) == (
        [1, None], [1])
    bad = {"x": (1, 8, 4), "y": (2, 16)}   # rows split across two dims
    assert _rule(rs, bad, [1, None], {"shp": np.asarray([2, 16], np.int64)}) is None
    cut = {k: np.asarray(v, np.int64) for k, v in
           (("st", [0]), ("en", [2]), ("ax1", [1]), ("ax2", [2]))}
    sl = Node("Slice", "s", ("x", "st", "en", "ax2"), ("y",))
    assert _rule(sl, {"x": (1, 8, 4), "y": (1, 8, 2)}, [1, None, None, None], cut) is not None
    sl1 = Node("Slice", "s", ("x", "st", "en", "ax1"), ("y",))
    assert _rule(sl1, {"x": (1, 8, 4), "y": (1, 2, 4)}, [1, None, None, None], cut) is None


def test_rules_qdq_per_axis_along_rows_is_rejected():
    s = {"x": (1, 8, 4), "y": (1, 8, 4)}
    c = {"sc": np.ones(8, np.float32), "s1": np.ones((), np.float32)}
    assert _rule(Node("QuantizeLinear", "q", ("x", "sc"), ("y",), {"axis": 1}), s,
                 [1, None], c) is None
    assert _rule(Node("QuantizeLinear", "q", ("x", "s1"), ("y",)), s, [1, None], c) == (
        [1, None], [1])


# ---------------------------------------------------------------- build helpers
def _emit_build(graph: Graph, base: Graph, out, name="m"):
    plan, _, placed, emission = make_plan(base, graph)
    emit_c(graph, placed.offsets, placed.arena_bytes, out / "c", emission=emission)
    return build_host(out / "c", out / f"{name}.exe", extra_cflags=("-O1", "-Werror")), plan


def _ort(model_path, x):
    from edgeformer.export.onnx_check import session   # the graph as written (no QLinear fusion)
    sess = session(str(model_path))
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: xi})[0] for xi in x])


def _mlp_model(n=6, d=8, hidden=16):
    rng = np.random.default_rng(SEED)
    w = {k: (rng.standard_normal(s) * 0.4).astype(np.float32) for k, s in
         (("g", (d,)), ("b", (d,)), ("w1", (d, hidden)), ("b1", (hidden,)),
          ("w2", (hidden, d)), ("b2", (d,)))}
    nodes = [h.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1),
             h.make_node("MatMul", ["ln", "w1"], ["f1"]), h.make_node("Add", ["f1", "b1"], ["f1b"]),
             h.make_node("Erf", ["f1b"], ["act"]),   # a GELU stand-in: any elementwise map
             h.make_node("MatMul", ["act", "w2"], ["f2"]), h.make_node("Add", ["f2", "b2"], ["f2b"]),
             h.make_node("Add", ["x", "f2b"], ["res"]),
             h.make_node("ReduceMean", ["res"], ["y"], axes=[1], keepdims=0)]
    g = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", T.FLOAT, [1, n, d])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, d])],
                     [nh.from_array(a, k) for k, a in w.items()])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_mlp_block_becomes_one_row_loop_written_over_x(tmp_path):
    onnx.save(_mlp_model(), tmp_path / "mlp.onnx")
    base = run(load_onnx(tmp_path / "mlp.onnx"), LOWERING)
    g = row_loops(base)
    assert [n.op for n in g.nodes] == [ROW_LOOP, "ReduceMean"]
    loop = g.nodes[0]
    assert loop.attrs["rows"] == 6 and len(loop.attrs["body"].nodes) == 7
    assert loop.attrs["inplace"] == {"res": "x"}   # token overwriting: res row r over x row r
    exe, plan = _emit_build(g, base, tmp_path)
    assert plan["arena_bytes"] < plan["unfused_liveness_bound_bytes"]
    x = np.random.default_rng(SEED + 1).standard_normal((8, 1, 6, 8)).astype(np.float32)
    (got,) = run_host(exe, [x])
    want = _ort(tmp_path / "mlp.onnx", x)
    assert np.abs(got - want).max() <= 1e-5


# ---------------------------------------------------------------- attention, tiny ViT
@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from edgeformer.export.onnx_export import export_onnx
    from edgeformer.models import build
    from edgeformer.specs import ViTSpec
    d = tmp_path_factory.mktemp("vit")
    spec = ViTSpec(in_channels=1, image_size=8, patch_size=2, dim=16, depth=1, heads=2,
                   mlp_ratio=2.0, num_classes=10)
    torch.manual_seed(SEED)
    export_onnx(build(spec).eval(), spec, d / "vit.onnx")
    return d / "vit.onnx"


def _loops(g: Graph) -> list[Node]:
    return [n for n in g.nodes if n.op == ROW_LOOP]


def test_attention_runs_per_query_row_against_whole_k_and_v(tiny_vit, tmp_path):
    base = run(load_onnx(tiny_vit), LOWERING)
    g = run(base, MEMORY)
    loops = _loops(g)
    main = max(loops, key=lambda n: len(n.attrs["body"].nodes))
    whole = [x for x in main.inputs if x not in {m["outer"] for m in main.attrs["row_inputs"]}]
    # K and V come from their own loops and are read whole; x is read and overwritten by rows
    assert len(whole) == 2 and all(g.producer(x).op == ROW_LOOP for x in whole)
    assert main.attrs["inplace"]
    assert not any(n.op == "Slice" for n in g.nodes)
    assert sum(n.op == "MatMul" for n in main.attrs["body"].nodes) >= 4   # q, QK, AV, proj, ...
    exe, plan = _emit_build(g, base, tmp_path, "fused")
    assert plan["arena_bytes"] < plan["unfused_liveness_bound_bytes"]
    x = np.random.default_rng(SEED + 2).standard_normal((6, 1, 1, 8, 8)).astype(np.float32)
    (got,) = run_host(exe, [x])
    assert np.abs(got - _ort(tiny_vit, x)).max() <= 1e-4


def test_attention_int8_is_bit_exact_to_the_unfused_c(tiny_vit, tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    from edgeformer.export.quantize import quantize_int8
    rng = np.random.default_rng(SEED + 3)
    quantize_int8(tiny_vit, tmp_path / "q.onnx", rng.standard_normal((32, 1, 8, 8)).astype(np.float32))
    base = run(load_onnx(tmp_path / "q.onnx"), LOWERING)
    g = run(base, MEMORY)
    assert len(_loops(g)) >= 3
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    exe_f, plan = _emit_build(g, base, tmp_path / "a")
    exe_u, _ = _emit_build(base, base, tmp_path / "b")
    assert plan["arena_bytes"] < plan["unfused_liveness_bound_bytes"]
    x = rng.standard_normal((6, 1, 1, 8, 8)).astype(np.float32)
    (got,) = run_host(exe_f, [x])
    (want,) = run_host(exe_u, [x])
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, (f"at {bad[0]}: got {got.ravel()[bad[0]]}, want {want.ravel()[bad[0]]}; "
                           f"{bad.size} of {got.size} differ")


def test_k_and_v_rows_come_from_one_loop_with_one_layernorm(tiny_vit, tmp_path):
    """dup_tokenwise recomputes LN(x) per projection; the K and the V loops then start with the
    same chain and are merged (save_memory, row_loop.merge_pair): LN(x) once per row for both."""
    pytest.importorskip("onnxruntime.quantization")
    from edgeformer.export.quantize import quantize_int8
    rng = np.random.default_rng(SEED + 3)
    quantize_int8(tiny_vit, tmp_path / "q.onnx", rng.standard_normal((32, 1, 8, 8)).astype(np.float32))
    base = run(load_onnx(tmp_path / "q.onnx"), LOWERING)
    g = run(base, MEMORY)
    main = max(_loops(g), key=lambda n: len(n.attrs["body"].nodes))
    whole = [x for x in main.inputs if x not in {m["outer"] for m in main.attrs["row_inputs"]}]
    assert len(whole) == 2 and g.producer(whole[0]) is g.producer(whole[1])
    kv = g.producer(whole[0])
    assert kv.op == ROW_LOOP and len(kv.outputs) == 2
    assert sum(n.op == "ef.QLayerNorm" for n in kv.attrs["body"].nodes) == 1
