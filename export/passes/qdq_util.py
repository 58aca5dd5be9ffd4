"""Shared matching helpers for the int8 passes (fold_qdq, int8_*): what a QDQ model's
DequantizeLinear / QuantizeLinear nodes mean, and how a pass rebuilds a valid graph.

Every int8 pass rewrites one pattern `DQ(int8) -> float op(s) -> Q(int8)` into one node that
reads the int8 tensors the DQs read and writes the int8 tensor the Q wrote. The fused node
takes the Q's place in the order (all its inputs exist earlier, all readers of its output
come later); `rebuild` then drops the float nodes nobody reads any more.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor


@dataclass(frozen=True)
class QParams:
    """Per-tensor int8 quantisation: real = (q - zp) * scale (scale kept as float32)."""

    scale: float
    zp: int


def qparams(g: Graph, node: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, zero_point) of a Q/DQ node when both are constants (zp defaults to 0)."""
    scale = g.tensors[node.inputs[1]].data
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    zp = g.tensors[zp_name].data if zp_name else np.zeros((), np.int8)
    if scale is None or zp is None:
        return None
    return scale.astype(np.float64), zp.astype(np.int64)


def _per_tensor(g: Graph, node: Node, q_name: str) -> QParams | None:
    p = qparams(g, node)
    if p is None or p[0].size != 1 or p[1].size != 1 or g.tensors[q_name].dtype != "int8":
        return None
    return QParams(float(np.float32(p[0].reshape(-1)[0])), int(p[1].reshape(-1)[0]))


def dq_of(g: Graph, name: str) -> Node | None:
    p = g.producer(name) if name else None
    return p if p is not None and p.op == "DequantizeLinear" else None


def int8_act(g: Graph, name: str) -> tuple[str, QParams] | None:
    """`name` is DQ(x) with x an int8 activation, per-tensor: (x, its params)."""
    dq = dq_of(g, name)
    if dq is None or g.tensors[dq.inputs[0]].is_const:
        return None
    qp = _per_tensor(g, dq, dq.inputs[0])
    return None if qp is None else (dq.inputs[0], qp)


def int8_value(g: Graph, name: str) -> tuple[str, QParams] | None:
    """`name` is DQ(x) with x any per-tensor int8 tensor (activation or constant)."""
    return int8_act(g, name) or int8_const(g, name)


def int8_const(g: Graph, name: str) -> tuple[str, QParams] | None:
    """`name` is DQ(c) with c an int8 constant, per-tensor: (c, its params)."""
    dq = dq_of(g, name)
    if dq is None or not g.tensors[dq.inputs[0]].is_const:
        return None
    qp = _per_tensor(g, dq, dq.inputs[0])
    return None if qp is None else (dq.inputs[0], qp)


def sole_q(g: Graph, name: str) -> tuple[Node, QParams] | None:
    """The one per-tensor int8 QuantizeLinear that is the only reader of float `name`."""
    cons = g.consumers(name)
    if len(cons) != 1 or cons[0].op != "QuantizeLinear" or name in g.outputs:
        return None
    q = cons[0]
    qp = _per_tensor(g, q, q.outputs[0])
    return None if qp is None else (q, qp)


def float_only_for(g: Graph, name: str, readers: set[int]) -> bool:
    """Float `name` is read by the nodes in `readers` (ids) only and is not a graph output."""
    return name not in g.outputs and all(id(c) in readers for c in g.consumers(name))


def rebuild(g: Graph, replaced: dict[int, Node | list[Node] | None],
            tensors: dict[str, Tensor] | None = None) -> Graph:
    """Swap each node whose id is in `replaced` for its fused node(s) (None: drop it), then
    prune."""
    nodes: list[Node] = []
    for n in g.nodes:
        m = replaced.get(id(n), n)
        nodes += m if isinstance(m, list) else ([] if m is None else [m])
    return prune(nodes, g, dict(g.tensors) if tensors is None else tensors)


def prune(nodes: list[Node], g: Graph, tensors: dict[str, Tensor]) -> Graph:
    """Drop nodes whose outputs nobody reads, then tensors nobody names."""
    live = list(nodes)
    while True:
        read = {t for n in live for t in n.inputs} | set(g.outputs)
        keep = [n for n in live if any(o in read for o in n.outputs if o)]
        if len(keep) == len(live):
            break
        live = keep
    named = {t for n in live for t in (*n.inputs, *n.outputs) if t} | set(g.inputs) | set(g.outputs)
    return g.replace(nodes=tuple(live), tensors={k: v for k, v in tensors.items() if k in named})


def requant_table(src: QParams, dst: QParams) -> np.ndarray:
    """int8 table T[v + 128] = Q_dst(DQ_src(v)) with onnxruntime's float32 arithmetic."""
    v = np.arange(-128, 128, dtype=np.int32)
    real = (v - src.zp).astype(np.float32) * np.float32(src.scale)
    q = np.rint(real / np.float32(dst.scale)) + np.float32(dst.zp)
    return np.clip(q, -128, 127).astype(np.int8)


def float_const(g: Graph, name: str) -> np.ndarray | None:
    """The float32 value of a constant, or of DQ(int8 constant) evaluated as onnxruntime
    does ((float)(q - zp) * scale, per tensor or per axis); None for anything else."""
    if not name:
        return None
    t = g.tensors[name]
    if t.is_const:
        return t.data.astype(np.float32) if t.dtype == "float32" else None
    dq = dq_of(g, name)
    if dq is None or not g.tensors[dq.inputs[0]].is_const:
        return None
    p = qparams(g, dq)
    if p is None:
        return None
    q = g.tensors[dq.inputs[0]].data.astype(np.int32)
    scale, zp = p[0].astype(np.float32).reshape(-1), p[1].astype(np.int32).reshape(-1)
    if scale.size > 1:   # per axis: align the parameters with that axis
        shape = [1] * q.ndim
        shape[dq.attrs.get("axis", 1) % q.ndim] = scale.size
        scale = scale.reshape(shape)
        zp = np.broadcast_to(zp, scale.shape) if zp.size == 1 else zp.reshape(shape)
    return ((q - zp).astype(np.float32) * scale).astype(np.float32)
