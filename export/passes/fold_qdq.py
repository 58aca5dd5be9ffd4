"""fold_qdq: DequantizeLinear -> {MatMul, Gemm, Conv} -> QuantizeLinear chains of an
onnxruntime QDQ model become one int8 node (ef.QMatMul / ef.QGemm / ef.QConv).

The fused node reads the int8 activation the first DequantizeLinear read, multiplies by the
int8 weights with int32 accumulation (plus the int32 bias), and requantises with a
per-output-channel fixed-point multiplier and shift (TFLite/CMSIS-NN style), writing the
int8 tensor the QuantizeLinear wrote. Chains that do not match exactly (uint8 activations,
asymmetric weights, a float output that is read elsewhere, ...) stay as they are: they
still run, in float, through the DQ/Q kernels. Pure: Graph -> Graph.
"""
from __future__ import annotations

import math

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.qdq_util import dq_of as _dq_of
from edgeformer.export.passes.qdq_util import prune as _prune
from edgeformer.export.passes.qdq_util import qparams as _qparams

FUSED = {"MatMul": "ef.QMatMul", "Gemm": "ef.QGemm", "Conv": "ef.QConv"}


def quantize_multiplier(m: float) -> tuple[int, int]:
    """m == mult * 2**(shift - 31) with mult in [2**30, 2**31) (0, 0 for m == 0)."""
    if m <= 0:
        return 0, 0
    frac, exp = math.frexp(m)
    mult = round(frac * (1 << 31))
    if mult == 1 << 31:
        mult //= 2
        exp += 1
    return int(mult), int(exp)


def _match(g: Graph, n: Node):
    """The fusion for node n, or None: (x_q, w_nk, bias_acc, y_q, attrs)."""
    a = n.attrs
    if n.op == "Gemm" and (a.get("transA", 0) or a.get("alpha", 1.0) != 1.0
                           or a.get("beta", 1.0) != 1.0):
        return None
    x_dq, w_dq = _dq_of(g, n.inputs[0]), _dq_of(g, n.inputs[1])
    cons = g.consumers(n.outputs[0])
    if (x_dq is None or w_dq is None or len(cons) != 1 or cons[0].op != "QuantizeLinear"
            or n.outputs[0] in g.outputs):
        return None
    q = cons[0]
    x_q, w_q, y_q = x_dq.inputs[0], g.tensors[w_dq.inputs[0]], q.outputs[0]
    qx, qw, qy = _qparams(g, x_dq), _qparams(g, w_dq), _qparams(g, q)
    if (None in (qx, qw, qy) or g.tensors[x_q].dtype != "int8" or g.tensors[y_q].dtype != "int8"
            or w_q.data is None or w_q.dtype != "int8" or qx[0].size != 1 or qy[0].size != 1
            or np.any(qw[1] != 0)):
        return None
    w = w_q.data
    # Weights as (N, K...) with N the output channel; per-channel scales must run along N.
    if n.op == "Conv":
        w_nk, axis_n = w, 0
    elif n.op == "Gemm":
        w_nk, axis_n = (w, 0) if a.get("transB", 0) else (w.T, 1)
    else:
        if w.ndim != 2:
            return None
        w_nk, axis_n = w.T, 1
    n_out = w_nk.shape[0]
    sw = qw[0].reshape(-1)
    if sw.size not in (1, n_out) or (sw.size > 1 and w_dq.attrs.get("axis", 1) % w.ndim != axis_n):
        return None
    sx, sy = float(qx[0].reshape(-1)[0]), float(qy[0].reshape(-1)[0])
    acc_scale = sx * np.broadcast_to(sw, (n_out,))
    bias = _bias_acc(g, n, acc_scale)
    if bias is False:
        return None
    mult, shift = zip(*(quantize_multiplier(s / sy) for s in acc_scale))
    if any(not 1 <= 31 - s <= 62 for s in shift):
        return None
    attrs = {k: v for k, v in a.items() if n.op == "Conv"}
    attrs.update(x_zp=int(qx[1].reshape(-1)[0]), y_zp=int(qy[1].reshape(-1)[0]),
                 mult=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32))
    return x_q, np.ascontiguousarray(w_nk), bias, y_q, attrs, q


def _bias_acc(g: Graph, n: Node, acc_scale: np.ndarray):
    """Bias in accumulator units (int32), None when absent, False when not foldable."""
    if len(n.inputs) < 3 or not n.inputs[2]:
        return None
    name = n.inputs[2]
    dq = _dq_of(g, name)
    if dq is not None:
        qb = _qparams(g, dq)
        data = g.tensors[dq.inputs[0]].data
        if qb is None or data is None:
            return False
        b = (data.astype(np.float64) - qb[1]) * qb[0]
    elif g.tensors[name].data is not None:
        b = g.tensors[name].data.astype(np.float64)
    else:
        return False
    b = np.broadcast_to(b.reshape(-1), acc_scale.shape)
    return np.round(b / acc_scale).astype(np.int32)


def fold_qdq(graph: Graph) -> Graph:
    tensors = dict(graph.tensors)
    out: list[Node] = []
    dropped: set[int] = set()   # ids of the QuantizeLinear nodes absorbed into a fused node
    for n in graph.nodes:
        if id(n) in dropped:
            continue
        m = _match(graph, n) if n.op in FUSED else None
        if m is None:
            out.append(n)
            continue
        x_q, w_nk, bias, y_q, attrs, q = m
        w_name = f"{n.name}.w_q"
        tensors[w_name] = Tensor(w_name, w_nk.shape, "int8", w_nk)
        b_name = ""
        if bias is not None:
            b_name = f"{n.name}.bias_q"
            tensors[b_name] = Tensor(b_name, bias.shape, "int32", bias)
        if n.op != "Conv":
            attrs["k"] = int(w_nk.shape[1])
        out.append(Node(FUSED[n.op], n.name, (x_q, w_name, b_name), (y_q,), attrs))
        dropped.add(id(q))
    return _prune(out, graph, tensors)
