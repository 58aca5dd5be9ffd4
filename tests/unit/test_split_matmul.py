"""split_matmul: slices of a matmul's columns become matmuls on weight column blocks (exact:
each output element is the same dot product, with the same bias and requantisation)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.split_matmul import split_matmul

SEED = 0  # provenance: weights from numpy default_rng(SEED)


def _i64(v):
    return np.asarray(v, np.int64)


def _graph(mm: Node, w: np.ndarray, extra: dict) -> Graph:
    ts = {"x": Tensor("x", (1, 4, 8), mm.attrs.get("dt", "float32")),
          "w": Tensor("w", w.shape, str(w.dtype), w)}
    ts.update(extra)
    nodes = [mm]
    ys = []
    for i, (s, e) in enumerate(((0, 4), (4, 8), (8, 12))):
        for k, v in ((f"s{i}", [s]), (f"e{i}", [e]), ("ax", [-1])):
            ts[k] = Tensor(k, (1,), "int64", _i64(v))
        ts[f"y{i}"] = Tensor(f"y{i}", (1, 4, 4), ts["x"].dtype)
        nodes.append(Node("Slice", f"sl{i}", (mm.outputs[0], f"s{i}", f"e{i}", "ax"), (f"y{i}",)))
        ys.append(f"y{i}")
    return Graph(tuple(nodes), ts, ("x",), tuple(ys), {"opset": 17})


def test_float_matmul_plus_bias_splits_into_column_blocks():
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((8, 12)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    extra = {"m": Tensor("m", (1, 4, 12), "float32"), "t": Tensor("t", (1, 4, 12), "float32"),
             "b": Tensor("b", (12,), "float32", b)}
    g = _graph(Node("Add", "add", ("m", "b"), ("t",)), w, extra)
    g = g.replace(nodes=(Node("MatMul", "mm", ("x", "w"), ("m",)),) + g.nodes)
    out = split_matmul(g)
    ops = [n.op for n in out.nodes]
    assert ops.count("MatMul") == 3 and "Slice" not in ops and ops.count("Add") == 3
    mms = [n for n in out.nodes if n.op == "MatMul"]
    blocks = np.concatenate([out.const(n.inputs[1]) for n in mms], axis=1)
    assert np.array_equal(blocks, w)
    adds = [n for n in out.nodes if n.op == "Add"]
    assert np.array_equal(np.concatenate([out.const(n.inputs[1]) for n in adds]), b)
    assert [n.outputs[0] for n in adds] == ["y0", "y1", "y2"]


def test_int8_qmatmul_splits_weights_bias_and_requant():
    rng = np.random.default_rng(SEED)
    w = rng.integers(-127, 128, (12, 8)).astype(np.int8)          # (N, K)
    bias = rng.integers(-1000, 1000, 12).astype(np.int32)
    mult = rng.integers(1 << 30, 1 << 31, 12).astype(np.int32)
    shift = rng.integers(-8, 0, 12).astype(np.int32)
    attrs = dict(x_zp=1, y_zp=-3, k=8, mult=mult, shift=shift, dt="int8")
    qmm = Node("ef.QMatMul", "qmm", ("x", "w", "bias"), ("m",), attrs)
    extra = {"m": Tensor("m", (1, 4, 12), "int8"), "bias": Tensor("bias", (12,), "int32", bias)}
    g = _graph(qmm, w, extra)
    out = split_matmul(g)
    q = [n for n in out.nodes if n.op == "ef.QMatMul"]
    assert len(q) == 3 and not any(n.op == "Slice" for n in out.nodes)
    assert np.array_equal(np.concatenate([out.const(n.inputs[1]) for n in q]), w)
    assert np.array_equal(np.concatenate([out.const(n.inputs[2]) for n in q]), bias)
    for key, full in (("mult", mult), ("shift", shift)):
        assert np.array_equal(np.concatenate([n.attrs[key] for n in q]), full)
    assert all(n.attrs["y_zp"] == -3 for n in q)   # same output quantisation for every block


def test_a_matmul_read_whole_is_left_alone():
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((8, 12)).astype(np.float32)
    g = Graph((Node("MatMul", "mm", ("x", "w"), ("m",)),),
              {"x": Tensor("x", (1, 4, 8), "float32"), "w": Tensor("w", w.shape, "float32", w),
               "m": Tensor("m", (1, 4, 12), "float32")}, ("x",), ("m",), {})
    assert split_matmul(g) is g
