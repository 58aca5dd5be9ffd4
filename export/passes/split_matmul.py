"""split_matmul: a matmul whose output is only ever read through slices of its last axis (the
fused qkv projection) becomes one matmul per slice on the matching weight columns.

Slices are first pushed up through ops that commute with them (elementwise ops, per-tensor
Q/DQ): Slice(f(x, c)) == f(Slice(x), Slice(c)). When they reach a MatMul / Gemm / ef.QMatMul /
ef.QGemm with constant weights, each slice gets its own matmul on a column block of the
weights (and of the bias and per-channel requantisation). Every output element is computed by
the same dot product with the same quantisation, so the result is exact. This lets q, k and v
each be computed by their own row loop without the full (N, 3d) tensor ever being live.
Pure: Graph -> Graph.
"""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.rowaxis import ELEMENTWISE, slice_params

MATMULS = ("MatMul", "Gemm", "ef.QMatMul", "ef.QGemm")


def _slices(g: Graph, t: str) -> list[tuple[Node, int, int]] | None:
    """The slices reading t, all on its last axis with step 1: [(node, start, end)]."""
    cons = g.consumers(t)
    rank = len(g.tensors[t].shape)
    out = []
    for c in cons:
        p = slice_params(g, c) if c.op == "Slice" and c.inputs[0] == t else None
        if not p or len(p) != 1 or p[0][0] != rank - 1 or p[0][3] != 1:
            return None
        out.append((c, p[0][1], p[0][2]))
    return out if out and t not in g.outputs else None


def _cut(data: np.ndarray, axis: int, s: int, e: int) -> np.ndarray:
    return np.ascontiguousarray(np.take(data, np.arange(s, e), axis=axis))


class _Builder:
    def __init__(self, g: Graph):
        self.g, self.tensors = g, dict(g.tensors)

    def const(self, name: str, data: np.ndarray, like: Tensor) -> str:
        self.tensors[name] = Tensor(name, tuple(data.shape), like.dtype, data)
        return name

    def sliced_input(self, name: str, s: int, e: int, tag: str,
                     new: list[Node]) -> str | None:
        """Slice of an operand along the output's last axis ("" and broadcast ones unchanged)."""
        if not name:
            return name
        t = self.tensors[name]
        ax = len(t.shape) - 1
        if len(t.shape) == 0 or t.shape[ax] == 1:
            return name
        if t.data is not None:
            return self.const(f"{name}#{tag}", _cut(t.data, ax, s, e), t)
        out = f"{name}#{tag}"
        shape = t.shape[:-1] + (e - s,)
        self.tensors[out] = Tensor(out, shape, t.dtype, None, t.scale, t.zero_point, t.quant_axis)
        st = self.const(f"{out}.starts", np.asarray([s], np.int64), Tensor("", (1,), "int64"))
        en = self.const(f"{out}.ends", np.asarray([e], np.int64), Tensor("", (1,), "int64"))
        axn = self.const(f"{out}.axes", np.asarray([-1], np.int64), Tensor("", (1,), "int64"))
        new.append(Node("Slice", f"{name}#slice{tag}", (name, st, en, axn), (out,)))
        return out


def _commutes(g: Graph, p: Node, t: str) -> bool:
    if p.op in ("QuantizeLinear", "DequantizeLinear"):
        return g.tensors[p.inputs[1]].numel == 1 and p.inputs[0] != "" and len(p.outputs) == 1
    if p.op not in ELEMENTWISE or len(p.outputs) != 1:
        return False
    out = g.tensors[t].shape
    # each operand either broadcasts along the last axis or spans it exactly
    return all(not i or len(g.tensors[i].shape) == 0 or g.tensors[i].shape[-1] in (1, out[-1])
               for i in p.inputs)


def _split_matmul(b: _Builder, p: Node, i: int, s: int, e: int, y: str) -> Node | None:
    g, tag = b.g, f"s{i}"
    w = g.tensors[p.inputs[1]]
    if w.data is None:
        return None
    ins, attrs = list(p.inputs), dict(p.attrs)
    if p.op == "MatMul":
        if len(w.shape) != 2:
            return None
        ins[1] = b.const(f"{w.name}#{tag}", _cut(w.data, 1, s, e), w)
    elif p.op == "Gemm":
        ins[1] = b.const(f"{w.name}#{tag}", _cut(w.data, 0 if attrs.get("transB", 0) else 1, s, e), w)
        if len(ins) > 2 and ins[2]:
            c = g.tensors[ins[2]]
            if c.data is None:
                return None
            if c.shape and c.shape[-1] != 1:
                ins[2] = b.const(f"{c.name}#{tag}", _cut(c.data, len(c.shape) - 1, s, e), c)
    else:   # ef.QMatMul / ef.QGemm: weights (N, K), per-channel bias, mult, shift
        ins[1] = b.const(f"{w.name}#{tag}", _cut(w.data, 0, s, e), w)
        if ins[2]:
            bias = g.tensors[ins[2]]
            ins[2] = b.const(f"{bias.name}#{tag}", _cut(bias.data, 0, s, e), bias)
        for k in ("mult", "shift"):
            v = np.asarray(attrs[k])
            if v.size > 1:
                attrs[k] = _cut(v, 0, s, e)
    return Node(p.op, f"{p.name}#{tag}", tuple(ins), (y,), attrs)


def _push(g: Graph) -> Graph | None:
    """One rewrite step (or None when nothing changes)."""
    for p in g.nodes:
        if len(p.outputs) != 1:
            continue
        t = p.outputs[0]
        sl = _slices(g, t) if t else None
        if not sl or not (p.op in MATMULS or _commutes(g, p, t)):
            continue
        b = _Builder(g)
        new: list[Node] = []
        for i, (c, s, e) in enumerate(sl):
            y = c.outputs[0]
            if p.op in MATMULS:
                n = _split_matmul(b, p, i, s, e, y)
                if n is None:
                    break
                new.append(n)
                continue
            ins = tuple(b.sliced_input(x, s, e, f"s{i}", new) for x in p.inputs)
            new.append(Node(p.op, f"{p.name}#s{i}", ins, (y,), dict(p.attrs)))
        else:
            drop = {id(p)} | {id(c) for c, _, _ in sl}
            nodes: list[Node] = []
            for n in g.nodes:
                if n is p:
                    nodes += new
                elif id(n) not in drop:
                    nodes.append(n)
            used = {x for n in nodes for x in (*n.inputs, *n.outputs) if x}
            used |= set(g.inputs) | set(g.outputs)
            return g.replace(nodes=tuple(nodes),
                             tensors={k: v for k, v in b.tensors.items() if k in used})
    return None


def split_matmul(graph: Graph) -> Graph:
    while True:
        nxt = _push(graph)
        if nxt is None:
            return graph
        graph = nxt
