"""fuse_bias_add: ef.QAdd(c, ef.QMatMul(x)) with c an int8 constant along the output channels
becomes one ef.QMatMul / ef.QGemm that does the add in its epilogue.

onnxruntime quantises a 3-D MatMul before its separate bias Add, so the QDQ model carries two
roundings: the matmul's requantisation to its own int8 output, then the Add's float32 math
(dequantise both, add, divide by the output scale, round half to even, saturate). The fused
node keeps both, in the same order on the same values (attrs add_*: the matmul output's
scale and zero point, the constant's, the Add's output's); only the int8 tensor between them
and the second kernel call go. The emitter turns c into per-channel float32 terms
(c - c_zp) * c_scale, the product the QAdd kernel would form per element, so it is bit-exact.

Runs after split_matmul: the constant is cut with the matmul's columns there, as a QAdd
operand, before it becomes the fused node's fourth input. Pure: Graph -> Graph.
"""
from __future__ import annotations

from edgeformer.export.ir import Graph, Node
from edgeformer.export.kernel_limits import QFC_KMAX as KMAX  # only the packed kernel (ef_qfc_add_s8) has the epilogue
from edgeformer.export.passes.qdq_util import rebuild

MATMULS = ("ef.QMatMul", "ef.QGemm")


def _channel_const(g: Graph, c: str, n: int) -> bool:
    t = g.tensors[c]
    return (t.is_const and t.dtype == "int8" and t.numel == n and len(t.shape) >= 1
            and t.shape[-1] == n)


def _match(g: Graph, add: Node) -> tuple[Node, Node] | None:
    if len(add.inputs) != 2:
        return None
    for ci, mi in ((0, 1), (1, 0)):
        c, m = add.inputs[ci], add.inputs[mi]
        p = g.producer(m)
        if p is None or p.op not in MATMULS or "add_y_scale" in p.attrs:
            continue
        if len(g.consumers(m)) != 1 or m in g.outputs or p.attrs.get("k", KMAX + 1) > KMAX:
            continue
        out = g.tensors[m].shape
        if not out or g.tensors[add.outputs[0]].shape != out or not _channel_const(g, c, out[-1]):
            continue
        at, side, cside = add.attrs, "ab"[mi], "ab"[ci]
        if at[f"{side}_zp"] != p.attrs["y_zp"]:
            continue
        attrs = dict(p.attrs, add_m_scale=at[f"{side}_scale"], add_m_zp=at[f"{side}_zp"],
                     add_c_scale=at[f"{cside}_scale"], add_c_zp=at[f"{cside}_zp"],
                     add_y_scale=at["y_scale"], add_y_zp=at["y_zp"])
        return p, Node(p.op, p.name, (*p.inputs, c), add.outputs, attrs)
    return None


def fuse_bias_add(graph: Graph) -> Graph:
    replaced: dict[int, Node | None] = {}
    for n in graph.nodes:
        m = _match(graph, n) if n.op == "ef.QAdd" else None
        if m is not None and id(m[0]) not in replaced:
            replaced[id(m[0])] = m[1]
            replaced[id(n)] = None
    return rebuild(graph, replaced) if replaced else graph
