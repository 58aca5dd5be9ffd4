"""aa_trans_b: an ef.QMatMulAA whose b is a Transpose's output takes bᵀ instead, from the same
Transpose with its last two output axes swapped, and says so with attrs trans_b = 1.

Why: the fast kernel (ef_qmatmul_aa_s8) reads b one output column at a time; stored as bᵀ,
each column is a contiguous run of k int8 values, which LDR + SXTB16 feed to SMLAD with no
repacking per query row. The Transpose costs the same either way (attention's Kᵀ becomes K
per head, V becomes Vᵀ per head), and it is often a row-loop copy that was going to run
anyway. Only when the Transpose's output feeds nothing but this matmul. Pure: Graph -> Graph.
"""
from __future__ import annotations

import dataclasses

from edgeformer.export.ir import Graph, Node


def _swap_last(v):
    v = list(v)
    v[-2], v[-1] = v[-1], v[-2]
    return v


def aa_trans_b(graph: Graph) -> Graph:
    nodes, tensors = list(graph.nodes), dict(graph.tensors)
    index = {id(n): i for i, n in enumerate(nodes)}
    changed = False
    for n in graph.nodes:
        if n.op != "ef.QMatMulAA" or n.attrs.get("trans_b"):
            continue
        b = n.inputs[1]
        t = graph.producer(b)
        if (t is None or t.op != "Transpose" or b in graph.outputs or len(graph.consumers(b)) != 1
                or len(tensors[b].shape) < 2 or "perm" not in t.attrs):
            continue
        perm = _swap_last(t.attrs["perm"])
        tensors[b] = dataclasses.replace(tensors[b], shape=tuple(_swap_last(tensors[b].shape)))
        nodes[index[id(t)]] = Node(t.op, t.name, t.inputs, t.outputs, dict(t.attrs, perm=perm))
        nodes[index[id(n)]] = Node(n.op, n.name, n.inputs, n.outputs, dict(n.attrs, trans_b=1))
        changed = True
    return graph.replace(nodes=tuple(nodes), tensors=tensors) if changed else graph
