"""spike_fc: an int8 fully-connected layer whose input is a spike tensor becomes ef.SpikeFC,
the event-driven kernel (ef_spike.c): skip the silent inputs, add the weight rows of the
ones that fired, multiply once per output at the end.

A spike tensor is the output of a LIF / Heaviside threshold: Greater -> Cast(bool -> float)
-> QuantizeLinear, so as int8 it holds two levels, Q(0) (the input zero point: silent) and
Q(1) (fired). `levels` follows those values through the ops that only move or relabel them
(Reshape-like, Slice, Concat, Q/DQ, ef.LUT) and through the streaming state: `state_in.K`
carries what `state_out.K` held at the last step (zeros at reset). The rewrite keeps the
dense node's weights, bias, requantisation and zero points as they are; only the
accumulation changes. The kernel stays exact for any input, a value that is neither level
included (it takes a slower path), so a wrong guess here costs time, never a result.

It runs at the top level and inside every row loop's body (passes/loop_bodies.py; the body's
row inputs and whole inputs start with the levels the outer graph gives them). A node that
carries fuse_bias_add's bias Add (attrs add_*; a spiking ViT's fc2) stays dense: its packed
kernel does matmul and Add in one pass, and split into ef.SpikeFC + ef.QAdd it measured
slower (trained spiking vit-digits, 13.8% of fc2's inputs firing: 4,920 more instructions
on the M7 stand-in, 362,320 vs 357,520). `spike_fed` still names it a spike-fed layer, for
the spike rates. Pure: Graph -> Graph.
"""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import RESHAPE_LIKE, Graph, Node
from edgeformer.export.kernel_limits import SPIKE_KMAX as KMAX  # int16 lanes hold any sum of KMAX int8 weights
from edgeformer.export.macs import node_macs
from edgeformer.export.passes.loop_bodies import ROW_LOOP, in_row_loops
from edgeformer.export.passes.qdq_util import qparams

SPIKE_OPS = ("ef.QGemm", "ef.QMatMul")
MAX_LEVELS = 2
MOVES = RESHAPE_LIKE + ("Slice", "Concat", "Transpose", "Gather")


def _quantize(values: frozenset, scale: float, zp: int) -> frozenset:
    """onnxruntime's QuantizeLinear of each float32 value: saturate(rint(v / scale) + zp)."""
    v = np.array(sorted(values), np.float32) / np.float32(scale)
    return frozenset(int(q) for q in np.clip(np.rint(v).astype(np.int64) + zp, -128, 127))


def _dequantize(values: frozenset, scale: float, zp: int) -> frozenset:
    v = (np.array(sorted(values), np.int32) - np.int32(zp)).astype(np.float32) * np.float32(scale)
    return frozenset(float(x) for x in v)


def _node_levels(g: Graph, n: Node, lv: dict) -> frozenset | None:
    """The set of values n's first output can take, or None when unknown / too many."""
    ins = [lv.get(t) for t in n.inputs if t]
    if n.op == "Cast" and g.tensors[n.inputs[0]].dtype == "bool":
        return frozenset({0.0, 1.0})
    if n.op in ("QuantizeLinear", "DequantizeLinear"):
        q = qparams(g, n)
        if ins[0] is None or q is None or q[0].size != 1 or q[1].size != 1:
            return None
        s, z = float(q[0].reshape(-1)[0]), int(q[1].reshape(-1)[0])
        return (_quantize if n.op == "QuantizeLinear" else _dequantize)(ins[0], s, z)
    if n.op == "ef.LUT":
        lut = g.tensors[n.inputs[1]].data
        if ins[0] is None or lut is None:
            return None
        return frozenset(int(lut.reshape(-1)[q + 128]) for q in ins[0])
    if n.op in MOVES:
        data = [lv.get(t) for t in (n.inputs if n.op == "Concat" else n.inputs[:1])]
        if any(d is None for d in data):
            return None
        return frozenset().union(*data)
    return None


def lif_levels(n: Node) -> dict[str, frozenset]:
    """The spike outputs of an ef.LIF (passes/lif_fuse.py) and their two values each."""
    at, outs = n.attrs, iter(n.outputs)
    forms = {"v_out": None, "s_f": (0.0, 1.0), "s_q": ("q_lo", "q_hi"), "s_dq": ("d_lo", "d_hi")}
    res = {}
    for k, lv in forms.items():
        if not at.get(k):
            continue
        t = next(outs)
        if lv is not None:
            res[t] = frozenset(at[x] if isinstance(x, str) else x for x in lv)
    for t in outs:   # copies of the int8 spike (lif_fuse's q_copies)
        res[t] = frozenset((at["q_lo"], at["q_hi"]))
    return res


def _sweep(g: Graph, state: dict[str, frozenset]) -> dict[str, frozenset]:
    lv = dict(state)
    for n in g.nodes:
        if n.op == "ef.LIF":
            lv.update(lif_levels(n))
            continue
        v = _node_levels(g, n, lv)
        if v is not None and len(v) <= MAX_LEVELS:
            lv[n.outputs[0]] = v
    return lv


def levels(g: Graph, known: dict[str, frozenset] | None = None) -> dict[str, frozenset]:
    """Tensor name -> the values it can take, for tensors with at most MAX_LEVELS of them.
    A state input starts as {0} (reset) and takes in what its state output can hold, until
    nothing changes (a state whose values outgrow MAX_LEVELS is dropped: unknown). `known`:
    levels of tensors made elsewhere (a row loop body's inputs, from the outer graph)."""
    known = known or {}
    pairs = {i: "state_out." + i[len("state_in."):] for i in g.inputs
             if i.startswith("state_in.") and "state_out." + i[len("state_in."):] in g.outputs}
    state = {i: frozenset({0.0}) for i in pairs}
    for _ in range(2 * len(pairs) + 2):
        lv = _sweep(g, {**known, **state})
        new = {}
        for i, o in pairs.items():
            v = lv.get(o)
            if i in state and v is not None and len(v | state[i]) <= MAX_LEVELS:
                new[i] = v | state[i]
        if new == state:
            return lv
        state = new
    return _sweep(g, {**known, **state})


def spike_fed(g: Graph, n: Node, lv: dict) -> tuple[int, int] | None:
    """(lo, hi): the silent and the fired level of n's int8 input, when n is an int8 fully
    connected layer fed by spikes whose silent level is the zero point (Q(0)), with constant
    2-D weights and k <= KMAX."""
    if n.op not in SPIKE_OPS:
        return None
    x, w = n.inputs[0], g.tensors[n.inputs[1]]
    v = lv.get(x)
    zp = n.attrs.get("x_zp")
    if v is None or w.data is None or g.tensors[x].dtype != "int8" or zp not in v:
        return None
    if int(n.attrs.get("k", w.shape[-1])) > KMAX or w.data.ndim != 2:
        return None
    hi = [q for q in v if q != zp]
    return int(zp), int(hi[0]) if hi else int(zp)


def spike_input(g: Graph, n: Node, lv: dict) -> tuple[int, int] | None:
    """spike_fed's levels when n runs event-driven: not with a fused bias Add (see above)."""
    return None if "add_y_scale" in n.attrs else spike_fed(g, n, lv)


def _rewrite(graph: Graph, lv: dict[str, frozenset]) -> Graph:
    nodes, changed = [], False
    for n in graph.nodes:
        sp = spike_input(graph, n, lv)
        if sp is None:
            nodes.append(n)
            continue
        nodes.append(Node("ef.SpikeFC", n.name, n.inputs, n.outputs,
                          {**n.attrs, "x_lo": sp[0], "x_hi": sp[1], "dense_op": n.op,
                           "macs": node_macs(graph, n)}))
        changed = True
    return graph.replace(nodes=tuple(nodes)) if changed else graph


def _body_levels(lv: dict[str, frozenset], body: Graph, loop: Node) -> dict[str, frozenset]:
    """levels() of a row loop's body, its inputs seeded with what the outer graph gives them."""
    known = {m["body"]: lv[m["outer"]] for m in loop.attrs["row_inputs"] if m["outer"] in lv}
    known.update({x: lv[x] for x in loop.inputs if x in lv and x in body.tensors})
    return levels(body, known)


def spike_fed_layers(graph: Graph) -> list[tuple[Node, str | None, Graph, tuple[int, int]]]:
    """Every spike-fed layer in execution order, event-driven (ef.SpikeFC) or dense: (node,
    the row loop it runs in or None, the graph it is in, its (silent, fired) levels)."""
    lv, out = levels(graph), []
    for n in graph.nodes:
        if n.op == ROW_LOOP:
            body = n.attrs["body"]
            blv = _body_levels(lv, body, n)
            out += [(b, n.name, body, _levels_of(body, b, blv)) for b in body.nodes]
        else:
            out.append((n, None, graph, _levels_of(graph, n, lv)))
    return [x for x in out if x[3] is not None]


def _levels_of(g: Graph, n: Node, lv: dict) -> tuple[int, int] | None:
    return (int(n.attrs["x_lo"]), int(n.attrs["x_hi"])) if n.op == "ef.SpikeFC" else spike_fed(g, n, lv)


def spike_fc(graph: Graph) -> Graph:
    lv = levels(graph)
    return in_row_loops(_rewrite(graph, lv), lambda b, loop: _rewrite(b, _body_levels(lv, b, loop)))
