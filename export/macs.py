"""Multiply-accumulates per op, read off the graph's static shapes (one truth for plan.json)."""
from __future__ import annotations

from math import prod

from edgeformer.export.ir import Graph, Node


def node_macs(graph: Graph, node: Node) -> int:
    t = graph.tensors
    op = node.op.split(".")[-1]
    if op in ("MatMul", "QMatMul", "QMatMulAA", "MatMulInteger"):
        a = t[node.inputs[0]].shape
        return prod(t[node.outputs[0]].shape) * (a[-1] if a else 1)
    if op in ("Gemm", "QGemm"):
        a = t[node.inputs[0]].shape
        k = a[0] if node.attrs.get("transA", 0) else a[-1]
        return prod(t[node.outputs[0]].shape) * k
    if op in ("Conv", "QConv", "ConvInteger"):
        w = t[node.inputs[1]].shape  # Cout x Cin/groups x k...
        return prod(t[node.outputs[0]].shape) * prod(w[1:])
    # Fused nodes (ef.RowLoop, ...) declare what their body computes.
    return int(node.attrs.get("macs", 0))


def graph_macs(graph: Graph) -> int:
    return sum(node_macs(graph, n) for n in graph.nodes)
