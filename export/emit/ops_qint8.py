"""Emitters for the int8-between-int8 ops of export/passes/int8_*.py: ef.LUT, ef.QAdd/QSub/QMul,
ef.QSoftmax, ef.QLayerNorm, ef.QMatMulAA (kernels in ef_qint8.c and ef_qlinear.c)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.ctx import MAX_DIMS, EmitCtx, broadcast_strides, squeeze_dims
from edgeformer.export.emit.ops_elementwise import bcast_params
from edgeformer.export.emit.qepilogue import requant_consts
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node

QBIN = {"ef.QAdd": "EF_QBIN_ADD", "ef.QSub": "EF_QBIN_SUB", "ef.QMul": "EF_QBIN_MUL"}


def _int8(ctx: EmitCtx, *names: str) -> None:
    for n in names:
        if ctx.t(n).dtype != "int8":
            raise ctx.reject(f"{n} is {ctx.t(n).dtype}; this kernel takes int8")


@register("ef.LUT")
def emit_lut(ctx: EmitCtx, node: Node) -> list[str]:
    x, table = node.inputs
    y = node.outputs[0]
    _int8(ctx, x, y)
    return ctx.call("ef_lut_s8", [ctx.ptr(x), ctx.ptr(table), ctx.ptr(y, out=True)],
                    "ef_lut_params", dict(n=ctx.t(y).numel))


@register(*QBIN)
def emit_qbinary(ctx: EmitCtx, node: Node) -> list[str]:
    a, b = node.inputs
    y = node.outputs[0]
    _int8(ctx, a, b, y)
    shape, (sa, sb) = bcast_params(ctx, y, [a, b])
    at = node.attrs
    params = dict(op=QBIN[node.op], rank=len(shape), shape=shape, a_stride=sa, b_stride=sb,
                  a_scale=at["a_scale"], b_scale=at["b_scale"], y_scale=at["y_scale"],
                  a_zp=at["a_zp"], b_zp=at["b_zp"], y_zp=at["y_zp"])
    return ctx.call("ef_qbinary_s8", [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y, out=True)],
                    "ef_qbinary_params", params)


@register("ef.QSoftmax")
def emit_qsoftmax(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    _int8(ctx, x, y)
    at = node.attrs
    row = at["row"]
    params = dict(rows=ctx.t(x).numel // row, row=row, x_scale=at["x_scale"],
                  pre_scale=at["pre_scale"], y_scale=at["y_scale"], x_zp=at["x_zp"],
                  y_zp=at["y_zp"])
    table = ctx.extra("exp", softmax_exp_table(at["x_scale"], at["pre_scale"]), "float32")
    return ctx.call("ef_qsoftmax_s8", [ctx.ptr(x), table, ctx.ptr(y, out=True),
                                       ctx.scratch("float")], "ef_qsoftmax_params", params)


def softmax_exp_table(x_scale: float, pre_scale: float) -> np.ndarray:
    """exp(-|s| * d) for d = 0..255, s = x_scale * pre_scale: every exponential an int8 row
    can need (ef_kernels.h), each the float32 nearest the double-precision value."""
    s = abs(float(np.float32(x_scale) * np.float32(pre_scale)))
    return np.exp(-s * np.arange(256, dtype=np.float64)).astype(np.float32)


@register("ef.QLayerNorm")
def emit_qlayernorm(ctx: EmitCtx, node: Node) -> list[str]:
    x, gamma, beta = node.inputs
    y = node.outputs[0]
    _int8(ctx, x, y)
    at = node.attrs
    params = dict(rows=ctx.t(x).numel // at["size"], size=at["size"], pool_rows=at["pool_rows"],
                  epsilon=at["epsilon"], x_scale=at["x_scale"], y_scale=at["y_scale"],
                  x_zp=at["x_zp"], y_zp=at["y_zp"])
    args = [ctx.ptr(x), ctx.ptr(gamma), ctx.ptr(beta), ctx.ptr(y, out=True), ctx.scratch("float")]
    return ctx.call("ef_qlayernorm_s8", args, "ef_qlayernorm_params", params)


def matmul_geometry(ctx: EmitCtx, a: str, b: str, trans_b: bool = False) -> dict:
    """m, k, n and the broadcast batch tables of a (.., m, k) @ b (.., k, n), or of
    a @ bᵀ with b (.., n, k) when trans_b."""
    sa, sb = ctx.shape(a), ctx.shape(b)
    m, k = sa[-2:]
    k2, n = sb[-1:-3:-1] if trans_b else sb[-2:]
    if k != k2:
        raise ctx.reject(f"inner dims differ: {sa} @ {sb}")
    ab, bb = sa[:-2], sb[:-2]
    rank = max(len(ab), len(bb))
    ab, bb = (1,) * (rank - len(ab)) + ab, (1,) * (rank - len(bb)) + bb
    out = tuple(max(x, y) for x, y in zip(ab, bb))
    shape, (s_a, s_b) = squeeze_dims(out, [s * m * k for s in broadcast_strides(ab, out)],
                                     [s * k * n for s in broadcast_strides(bb, out)])
    if len(shape) > MAX_DIMS:
        raise ctx.reject(f"{len(shape)} batch dims; the kernel takes {MAX_DIMS}")
    return dict(m=m, k=k, n=n, batch_rank=len(shape), batch_shape=shape, a_stride=s_a,
                b_stride=s_b)


@register("ef.QMatMulAA")
def emit_qmatmul_aa(ctx: EmitCtx, node: Node) -> list[str]:
    a, b = node.inputs
    y = node.outputs[0]
    _int8(ctx, a, b, y)
    at = node.attrs
    trans_b = int(at.get("trans_b", 0))
    geo = matmul_geometry(ctx, a, b, bool(trans_b))
    # |acc| <= k * 255 * 255: the SMMLA requantisation when no accumulator can tie (qepilogue)
    hs = requant_consts(at["mult"], at["shift"], at["y_zp"], geo["k"] * 255 * 255)
    params = dict(**geo, a_zp=at["a_zp"], b_zp=at["b_zp"], y_zp=at["y_zp"], mult=at["mult"],
                  shift=at["shift"], trans_b=trans_b, h=hs[0] if hs else 0)
    return ctx.call("ef_qmatmul_aa_s8", [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y, out=True)],
                    "ef_qmatmul_aa_params", params)
