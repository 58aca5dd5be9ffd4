"""int8_rowwise: Softmax and LayerNormalization between int8 tensors become ef.QSoftmax /
ef.QLayerNorm, int8 in and out, float math one row at a time in a row-sized scratch.

Patterns (rows along the last axis):
- Q(Softmax(DQ(x))), also Q(Softmax(DQ(x) * c)) with c a scalar constant (a score scale
  left unquantised);
- Q(LayerNormalization(DQ(x), gamma, beta)) with constant gamma/beta;
- Q(ReduceMean(LayerNormalization(DQ(x)), axis=-2)): the final norm + token mean pool of a
  ViT, one (rows, size) float matrix that would otherwise sit in the arena; the kernel
  keeps a running row sum instead (attrs["pool_rows"]).
The kernels reuse the float row kernels, so the numbers are those of the float path the
graph ran before (onnxruntime within one step). Scratch: node.attrs["scratch_bytes"].
Pure: Graph -> Graph.
"""
from __future__ import annotations

import math

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.kernel_limits import qlayernorm_scratch_bytes, qsoftmax_scratch_bytes
from edgeformer.export.passes.qdq_util import (float_const, float_only_for, int8_act, rebuild,
                                               sole_q)


def _softmax(g: Graph, n: Node) -> tuple[Node, Node] | None:
    shape = g.tensors[n.inputs[0]].shape
    rank = len(shape)
    old = (g.meta.get("opset") or 13) < 13
    ax = n.attrs.get("axis", 1 if old else -1) % max(rank, 1)
    if not old and ax != rank - 1:
        return None
    row = math.prod(shape[ax:])
    src, pre = n.inputs[0], 1.0
    act = int8_act(g, src)
    if act is None:   # DQ(x) * c -> Softmax
        p = g.producer(src)
        if p is None or p.op != "Mul" or not float_only_for(g, src, {id(n)}):
            return None
        for i, j in ((0, 1), (1, 0)):
            c = float_const(g, p.inputs[j])
            act = int8_act(g, p.inputs[i])
            if act is not None and c is not None and c.size == 1:
                pre = float(c.reshape(-1)[0])
                break
        else:
            return None
    q = sole_q(g, n.outputs[0])
    if act is None or q is None:
        return None
    (x, px), (qn, py) = act, q
    attrs = dict(x_scale=px.scale, x_zp=px.zp, y_scale=py.scale, y_zp=py.zp, pre_scale=pre,
                 row=row, scratch_bytes=qsoftmax_scratch_bytes(row))
    return Node("ef.QSoftmax", n.name, (x,), (qn.outputs[0],), attrs), qn


def _pool_axis(g: Graph, r: Node, rank: int) -> bool:
    """ReduceMean `r` averages over axis rank-2 only (the rows of a (.., rows, size) tensor)."""
    if len(r.inputs) > 1 and r.inputs[1]:
        axes = g.tensors[r.inputs[1]].data
        if axes is None:
            return False
        axes = axes.tolist()
    else:
        axes = r.attrs.get("axes")
    return axes is not None and [a % rank for a in axes] == [rank - 2]


def _layernorm(g: Graph, n: Node, tensors: dict[str, Tensor]) -> tuple[Node, Node] | None:
    act = int8_act(g, n.inputs[0])
    shape = g.tensors[n.inputs[0]].shape
    rank = len(shape)
    if act is None or n.attrs.get("axis", -1) % rank != rank - 1 or any(n.outputs[1:]):
        return None
    size = shape[-1]
    gamma = float_const(g, n.inputs[1])
    beta = float_const(g, n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else np.zeros(1, np.float32)
    if gamma is None or beta is None or gamma.size not in (1, size) or beta.size not in (1, size):
        return None
    pool, tail = 0, n
    cons = g.consumers(n.outputs[0])
    if (len(cons) == 1 and cons[0].op == "ReduceMean" and rank >= 2 and _pool_axis(g, cons[0], rank)
            and float_only_for(g, n.outputs[0], {id(cons[0])})):
        pool, tail = shape[-2], cons[0]
    q = sole_q(g, tail.outputs[0])
    if q is None:
        return None
    (x, px), (qn, py) = act, q
    gname, bname = f"{n.name}.gamma", f"{n.name}.beta"
    for name, v in ((gname, gamma), (bname, beta)):
        tensors[name] = Tensor(name, (size,), "float32",
                               np.ascontiguousarray(np.broadcast_to(v.reshape(-1), (size,))))
    attrs = dict(x_scale=px.scale, x_zp=px.zp, y_scale=py.scale, y_zp=py.zp,
                 epsilon=float(n.attrs.get("epsilon", 1e-5)), size=size, pool_rows=pool,
                 scratch_bytes=qlayernorm_scratch_bytes(size, pool))
    return Node("ef.QLayerNorm", n.name, (x, gname, bname), (qn.outputs[0],), attrs), qn


def int8_rowwise(graph: Graph) -> Graph:
    tensors = dict(graph.tensors)
    replaced: dict[int, Node | None] = {}
    for n in graph.nodes:
        if n.op == "Softmax":
            m = _softmax(graph, n)
        elif n.op == "LayerNormalization":
            m = _layernorm(graph, n, tensors)
        else:
            continue
        if m is not None:
            replaced[id(m[1])] = m[0]
    return rebuild(graph, replaced, tensors)
