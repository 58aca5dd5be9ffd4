"""int8_binary: Q(DQ(a) op DQ(b)) for op in Add/Sub/Mul becomes ef.QAdd / ef.QSub / ef.QMul
on the int8 tensors (broadcasting as ONNX does).

Residual adds, the bias add onnxruntime leaves after a quantised MatMul (b an int8
constant) and products of two activations. The kernel does what onnxruntime does per
element, in float32: dequantise both sides, apply op, divide by the output scale, round
half to even, add the zero point, saturate; so it is bit-exact, and no float tensor is
written to the arena. A scalar-constant operand is left to int8_lut (a table is cheaper).
Pure: Graph -> Graph.
"""
from __future__ import annotations

from edgeformer.export.ir import Graph, Node
from edgeformer.export.passes.qdq_util import int8_act, int8_value, rebuild, sole_q

FUSED = {"Add": "ef.QAdd", "Sub": "ef.QSub", "Mul": "ef.QMul"}


def _match(g: Graph, n: Node) -> tuple[Node, Node] | None:
    if len(n.inputs) != 2:
        return None
    a, b = (int8_value(g, i) for i in n.inputs)
    q = sole_q(g, n.outputs[0])
    if a is None or b is None or q is None:
        return None
    if int8_act(g, n.inputs[0]) is None and int8_act(g, n.inputs[1]) is None:
        return None   # both constant: the loader would have folded it
    (xa, pa), (xb, pb), (qn, py) = a, b, q
    attrs = dict(a_scale=pa.scale, a_zp=pa.zp, b_scale=pb.scale, b_zp=pb.zp, y_scale=py.scale,
                 y_zp=py.zp)
    return Node(FUSED[n.op], n.name, (xa, xb), (qn.outputs[0],), attrs), qn


def int8_binary(graph: Graph) -> Graph:
    replaced: dict[int, Node | None] = {}
    for n in graph.nodes:
        m = _match(graph, n) if n.op in FUSED else None
        if m is not None:
            replaced[id(m[1])] = m[0]
    return rebuild(graph, replaced)
