"""lif_fuse: a LIF neuron's float glue becomes one ef.LIF node (ef_lif_s8 in ef_spike.c).

A LIF layer exports as a dozen elementwise float ops around the int8 layer that feeds it:

    v' = Mul(Mul(v, leak), Sub(one, s)) + DequantizeLinear(x)     (state_out.*.lif_v)
    s' = Cast(Greater(v', th))                                    (0.0 / 1.0)
    then Q(s') (the next layer's int8 input), often DQ(Q(s')) (state_out.*.lif_s)

and a stateless threshold (the spiking ViT's MLP) is Cast(Greater(DequantizeLinear(x), th)).
Each op is a pass over memory on the MCU: the glue cost the spiking LMUFormer 32k
instructions per step, more than its matmuls. The pattern is decided from the graph's
structure alone (never from calibrated ranges), so the search's memory model and the export
agree. It runs after the memory step, at the top level and inside every row loop's body (a
spiking ViT's MLP threshold is in its block's loop: passes/loop_bodies.py). ef_lif_s8 computes the same float32 operations in the same order (bit-exact to
onnxruntime) and writes every form of the spike the graph asks for in one loop: the Cast's
float, the int8 of a Quantize after it (directly or through a Reshape), and the float of a
Dequantize of that int8 (each spike form is a function of one bit, computed here once).
Pure: Graph -> Graph.
"""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import RESHAPE_LIKE, Graph, Node
from edgeformer.export.passes.loop_bodies import in_row_loops
from edgeformer.export.passes.qdq_util import qparams


def _scalar(g: Graph, name: str) -> float | None:
    t = g.tensors.get(name)
    if t is None or t.data is None or t.data.size != 1 or t.dtype != "float32":
        return None
    return float(np.float32(t.data.reshape(-1)[0]))


def _per_tensor(g: Graph, n: Node) -> tuple[float, int] | None:
    """(scale, zero point) of a Q/DQ node with int8 data and per-tensor constant params."""
    q = qparams(g, n)
    data = n.outputs[0] if n.op == "QuantizeLinear" else n.inputs[0]
    if q is None or q[0].size != 1 or q[1].size != 1 or g.tensors[data].dtype != "int8":
        return None
    return float(np.float32(q[0].reshape(-1)[0])), int(q[1].reshape(-1)[0])


def quantize_level(v: float, scale: float, zp: int) -> int:
    """onnxruntime's QuantizeLinear of one float32 to int8: saturate(rint(v / scale) + zp)."""
    q = np.rint(np.float32(v) / np.float32(scale)).astype(np.int64) + zp
    return int(np.clip(q, -128, 127))


def dequantize_level(q: int, scale: float, zp: int) -> float:
    """DequantizeLinear of one int8: float32(q - zp) * float32(scale), as onnxruntime."""
    return float(np.float32(q - zp) * np.float32(scale))


class _Match:
    """One LIF (or stateless threshold) found around a Greater node."""

    def __init__(self) -> None:
        self.absorbed: list[Node] = []      # nodes the ef.LIF replaces
        self.anchor: Node | None = None     # where ef.LIF runs: the node producing v'
        self.inputs: tuple[str, ...] = ()
        self.attrs: dict = {}
        self.outputs: list[str] = []


def _only_consumer(g: Graph, t: str, n: Node) -> bool:
    return t not in g.outputs and [c.name for c in g.consumers(t)] == [n.name]


def _membrane(g: Graph, v: str, gt: Node, m: _Match) -> bool:
    """v = Mul(Mul(v_in, leak), Sub(one, s_in)) + DQ(x), or v = DQ(x): fills m's inputs."""
    p = g.producer(v)
    if p is None:
        return False
    if p.op == "DequantizeLinear":
        qp = _per_tensor(g, p)
        if qp is None:
            return False
        m.inputs = (p.inputs[0], "", "")
        m.attrs.update(x_scale=qp[0], x_zp=qp[1], state=0, leak=0.0, one=0.0)
        m.anchor = p
        m.absorbed.append(p)
        keep = not _only_consumer(g, v, gt)
        if keep:
            m.outputs.append(v)
        m.attrs["v_out"] = keep
        return True
    if p.op != "Add":
        return False
    for dq_t, c_t in (p.inputs, p.inputs[::-1]):
        dq, mul = g.producer(dq_t), g.producer(c_t)
        if dq is None or mul is None or dq.op != "DequantizeLinear" or mul.op != "Mul":
            continue
        qp = _per_tensor(g, dq)
        if qp is None or not _only_consumer(g, dq_t, p) or not _only_consumer(g, c_t, p):
            continue
        legs = [g.producer(t) for t in mul.inputs]
        if any(x is None for x in legs) or sorted(x.op for x in legs) != ["Mul", "Sub"]:
            continue
        sub, dec = (legs[0], legs[1]) if legs[0].op == "Sub" else (legs[1], legs[0])
        one = _scalar(g, sub.inputs[0])
        lk = [(i, _scalar(g, t)) for i, t in enumerate(dec.inputs) if _scalar(g, t) is not None]
        if one is None or len(lk) != 1 or g.tensors[sub.inputs[1]].is_const:
            continue
        v_in = dec.inputs[1 - lk[0][0]]
        if g.tensors[v_in].is_const or not all(_only_consumer(g, t, mul) for t in (sub.outputs[0], dec.outputs[0])):
            continue
        m.inputs = (dq.inputs[0], v_in, sub.inputs[1])
        m.attrs.update(x_scale=qp[0], x_zp=qp[1], state=1, leak=lk[0][1], one=one)
        m.anchor = p
        m.absorbed += [sub, dec, mul, dq, p]
        keep = v in g.outputs or any(c.name != gt.name for c in g.consumers(v))
        if keep:
            m.outputs.append(v)
        m.attrs["v_out"] = keep
        return True
    return False


def _spike_forms(g: Graph, cast: Node, m: _Match) -> None:
    """The forms of the spike after the Cast that ef.LIF writes itself: the Cast's float,
    one int8 Quantize (directly or through a Reshape-like) and one Dequantize of that int8."""
    s = cast.outputs[0]
    q_node, rest = None, []
    for c in g.consumers(s):
        cand = c
        if c.op in RESHAPE_LIKE and c.outputs[0] not in g.outputs:
            cs = g.consumers(c.outputs[0])
            cand = cs[0] if len(cs) == 1 else None
        if q_node is None and cand is not None and cand.op == "QuantizeLinear" and _per_tensor(g, cand):
            q_node = cand
            m.absorbed += [c] if c is cand else [c, cand]
        else:
            rest.append(c)
    keep_f = s in g.outputs or bool(rest)
    m.attrs.update(s_f=keep_f, s_q=q_node is not None, s_dq=False)
    if keep_f:
        m.outputs.append(s)
    if q_node is None:
        return
    sc, zp = _per_tensor(g, q_node)
    lo, hi = quantize_level(0.0, sc, zp), quantize_level(1.0, sc, zp)
    m.attrs.update(q_lo=lo, q_hi=hi)
    m.outputs.append(q_node.outputs[0])
    for d in g.consumers(q_node.outputs[0]):
        dp = _per_tensor(g, d) if d.op == "DequantizeLinear" else None
        if dp is not None:
            m.absorbed.append(d)
            m.attrs.update(s_dq=True, d_lo=dequantize_level(lo, *dp), d_hi=dequantize_level(hi, *dp))
            m.outputs.append(d.outputs[0])
            return


def match_lif(g: Graph, gt: Node) -> _Match | None:
    """The LIF around Greater node gt, or None when the structure is not the one above."""
    if gt.op != "Greater" or len(gt.inputs) != 2:
        return None
    th = _scalar(g, gt.inputs[1])
    casts = g.consumers(gt.outputs[0])
    if th is None or gt.outputs[0] in g.outputs or len(casts) != 1 or casts[0].op != "Cast":
        return None
    cast = casts[0]
    if g.tensors[cast.outputs[0]].dtype != "float32" or g.tensors[gt.inputs[0]].dtype != "float32":
        return None
    m = _Match()
    m.attrs["th"] = th
    if not _membrane(g, gt.inputs[0], gt, m):
        return None
    m.absorbed += [gt, cast]
    _spike_forms(g, cast, m)
    return m if m.outputs else None


def _copy_of(x: _Match, owner: _Match) -> bool:
    """x is a copy of owner's threshold (dup_tokenwise gives each consumer its own Greater ->
    Cast -> Q): the same membrane and threshold, and only an int8 spike of the same levels."""
    a, b = x.attrs, owner.attrs
    return (x.anchor is owner.anchor and a["th"] == b["th"] and a.get("s_q") and b.get("s_q")
            and not a.get("s_f") and not a.get("s_dq") and (a["q_lo"], a["q_hi"]) == (b["q_lo"], b["q_hi"]))


def lif_fuse(graph: Graph) -> Graph:
    return in_row_loops(_fuse(graph), lambda body, loop: _fuse(body))


def _fuse(graph: Graph) -> Graph:
    matches, taken, owner_of = [], set(), {}
    for n in graph.nodes:
        x = match_lif(graph, n)
        if x is None:
            continue
        names = {a.name for a in x.absorbed}
        if not taken & names:
            matches.append(x)
            taken |= names
            owner_of[x.anchor.name] = x
            continue
        # A second threshold of a membrane already taken: a copy becomes one more int8 output
        # of the same ef.LIF (copied in the same call); anything else stays as it is.
        owner = owner_of.get(x.anchor.name)
        own = {a.name for a in x.absorbed[x.absorbed.index(n):]}   # its Greater onwards
        if owner is not None and _copy_of(x, owner) and not taken & own:
            owner.absorbed += [a for a in x.absorbed if a.name in own]
            owner.attrs["q_copies"] = owner.attrs.get("q_copies", 0) + 1
            owner.outputs.append(x.outputs[-1])
            taken |= own
    if not matches:
        return graph
    drop = {n.name for x in matches for n in x.absorbed}
    at = {x.anchor.name: x for x in matches}
    nodes = []
    for n in graph.nodes:
        x = at.get(n.name)
        if x is not None:
            nodes.append(Node("ef.LIF", f"{n.name}.lif", x.inputs, tuple(x.outputs),
                              {**x.attrs, "n": graph.tensors[x.inputs[0]].numel}))
        if n.name not in drop:
            nodes.append(n)
    return graph.replace(nodes=tuple(nodes))
