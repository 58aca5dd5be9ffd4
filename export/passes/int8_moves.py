"""int8_moves: DQ -> move op -> Q with the same scale and zero point becomes the move op on
the int8 tensor itself.

onnxruntime's QDQ format wraps every Reshape/Transpose/Slice/Concat/... in DQ/Q pairs with
identical parameters; run as written, each moves a float32 copy (4x the bytes) through the
arena. Moving bytes commutes with an identical requantisation: round((q - zp) * s / s) + zp
== q for every int8 q (|q - zp| <= 255, so the float32 error is far below one half), so the
rewrite is exact. A Concat whose inputs are quantised differently gets a requantising
table (ef.LUT, Q_out(DQ_in(v)) in float32, exact too) on those inputs first. The shape-op
emitters copy by element size, so they run on int8 as they are.
Pure: Graph -> Graph.
"""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.qdq_util import (QParams, int8_act, int8_value, rebuild,
                                               requant_table, sole_q)

# op -> positions of its data inputs (the others are shapes, axes, indices)
MOVES: dict[str, tuple[int, ...] | None] = {
    "Reshape": (0,), "Flatten": (0,), "Squeeze": (0,), "Unsqueeze": (0,), "Identity": (0,),
    "Transpose": (0,), "Slice": (0,), "Split": (0,), "Gather": (0,), "Expand": (0,),
    "Tile": (0,), "DepthToSpace": (0,), "SpaceToDepth": (0,),
    "Concat": None,   # every input is data
}


def _match(g: Graph, n: Node, tensors: dict[str, Tensor]):
    """(the int8 node(s), the Q nodes absorbed) or None."""
    data = MOVES[n.op]
    pos = range(len(n.inputs)) if data is None else data
    ins = list(n.inputs)
    params: dict[int, QParams] = {}
    for i in pos:
        # at least the first data input must be an activation: all-constant moves were folded
        m = (int8_act if i == 0 else int8_value)(g, ins[i])
        if m is None:
            return None
        ins[i], params[i] = m
    outs, qs = [], []
    for o in n.outputs:
        if not o:
            outs.append(o)
            continue
        q = sole_q(g, o)
        if q is None:
            return None
        outs.append(q[0].outputs[0])
        qs.append(q[0])
    if not qs:
        return None
    out_p = sole_q(g, n.outputs[0])[1]
    if any(sole_q(g, o)[1] != out_p for o in n.outputs[1:] if o):
        return None
    pre = []
    for i, p in params.items():
        if p == out_p:
            continue
        if n.op != "Concat":   # onnxruntime gives other moves identical parameters
            return None
        # Concat of differently quantised inputs: requantise that input first (a table)
        table = requant_table(p, out_p)
        src, r_name = g.tensors[ins[i]], f"{n.name}.requant{i}"
        qp = dict(scale=np.float32(out_p.scale), zero_point=np.int8(out_p.zp))
        if src.is_const:
            data = table[src.data.astype(np.int32) + 128]
            tensors[r_name] = Tensor(r_name, src.shape, "int8", data, **qp)
        else:
            tensors[r_name + ".lut"] = Tensor(r_name + ".lut", (256,), "int8", table)
            tensors[r_name] = Tensor(r_name, src.shape, "int8", None, **qp)
            pre.append(Node("ef.LUT", r_name, (ins[i], r_name + ".lut"), (r_name,),
                            {"ops": ["requantize"]}))
        ins[i] = r_name
    return pre + [Node(n.op, n.name, tuple(ins), tuple(outs), dict(n.attrs))], qs


def int8_moves(graph: Graph) -> Graph:
    tensors = dict(graph.tensors)
    replaced: dict[int, list[Node] | None] = {}
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        m = _match(graph, n, tensors) if n.op in MOVES else None
        if m is None:
            continue
        new, qs = m
        qs.sort(key=lambda q: order[id(q)])
        replaced[id(qs[0])] = new   # the earliest Q: every reader of any output comes later
        for q in qs[1:]:
            replaced[id(q)] = None
    return rebuild(graph, replaced, tensors)
