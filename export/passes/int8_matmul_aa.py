"""int8_matmul_aa: Q(MatMul(DQ(a), DQ(b))) with both operands int8 activations (attention's
Q·Kᵀ and A·V, batched and broadcast) becomes ef.QMatMulAA.

acc = sum_k (a - a_zp)(b - b_zp) is exact in int32 (|term| <= 255², K < 2^15), and y =
requant(acc, sa*sb/sy) + y_zp with the fixed-point multiplier of fold_qdq. onnxruntime sums
the dequantised float products instead; the two agree within one output step.
Pure: Graph -> Graph.
"""
from __future__ import annotations

from edgeformer.export.ir import Graph, Node
from edgeformer.export.passes.fold_qdq import quantize_multiplier
from edgeformer.export.passes.qdq_util import int8_act, rebuild, sole_q

MAX_K = 1 << 15   # keeps the int32 accumulator from overflowing


def _match(g: Graph, n: Node) -> tuple[Node, Node] | None:
    a, b = (int8_act(g, i) for i in n.inputs)
    q = sole_q(g, n.outputs[0])
    if a is None or b is None or q is None:
        return None
    (xa, pa), (xb, pb), (qn, py) = a, b, q
    sa, sb = g.tensors[xa].shape, g.tensors[xb].shape
    k = sa[-1]
    if len(sa) < 2 or len(sb) < 2 or k > MAX_K:   # 1-D operands: leave to the float path
        return None
    mult, shift = quantize_multiplier(pa.scale * pb.scale / py.scale)
    if not 1 <= 31 - shift <= 62:
        return None
    attrs = dict(a_zp=pa.zp, b_zp=pb.zp, y_zp=py.zp, mult=mult, shift=shift)
    return Node("ef.QMatMulAA", n.name, (xa, xb), (qn.outputs[0],), attrs), qn


def int8_matmul_aa(graph: Graph) -> Graph:
    replaced: dict[int, Node | None] = {}
    for n in graph.nodes:
        m = _match(graph, n) if n.op == "MatMul" else None
        if m is not None:
            replaced[id(m[1])] = m[0]
    return rebuild(graph, replaced)
