"""dup_tokenwise: a cheap token-wise chain read by several consumers is recomputed per
consumer, only when its anchor is live anyway or smaller (never more bytes live)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.dup_tokenwise import dup_tokenwise


def _t(name, shape=(1, 4, 8), dt="float32", data=None):
    return Tensor(name, shape, dt, data)


def _ln_graph(x_shared: bool) -> Graph:
    g = np.ones(8, np.float32)
    w = np.ones((8, 8), np.float32)
    nodes = [Node("LayerNormalization", "ln", ("x", "g"), ("l",), {"axis": -1}),
             Node("MatMul", "q", ("l", "w"), ("q",)), Node("MatMul", "k", ("l", "w"), ("k",)),
             Node("Add", "sum", ("q", "k"), ("s",))]
    outs = ("s",)
    if x_shared:
        nodes.append(Node("Add", "res", ("x", "s"), ("y",)))
        outs = ("y",)
    ts = {n: _t(n) for n in ("x", "l", "q", "k", "s", "y")}
    ts.update(g=_t("g", (8,), data=g), w=_t("w", (8, 8), data=w))
    return Graph(tuple(nodes), ts, ("x",), outs, {})


def test_layernorm_shared_by_two_projections_is_recomputed_per_consumer():
    out = dup_tokenwise(_ln_graph(x_shared=True))
    lns = [n for n in out.nodes if n.op == "LayerNormalization"]
    assert len(lns) == 2 and {n.inputs[0] for n in lns} == {"x"}
    assert [len(out.consumers(n.outputs[0])) for n in lns] == [1, 1]
    assert "l" not in out.tensors


def test_no_duplication_when_the_anchor_would_only_live_longer():
    # x is read by nothing else and is as big as LN(x): duplicating would not save a byte
    g = _ln_graph(x_shared=False)
    assert dup_tokenwise(g) is g
