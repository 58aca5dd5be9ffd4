"""MatMul (batched, broadcast) and Gemm."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.ctx import MAX_DIMS, EmitCtx, broadcast_strides, squeeze_dims
from edgeformer.export.emit.ops_elementwise import _require
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node


def _batch_strides(batch: tuple[int, ...], mat: int, out_batch: tuple[int, ...]) -> list[int]:
    return [s * mat for s in broadcast_strides(batch, out_batch)]


def pack_f32_fc(w: np.ndarray) -> np.ndarray:
    """(k, n) weight -> column blocks of 16, each (k, 16) row-major, the last (k, n % 16):
    the layout ef_fc_f32 reads with one VLDM per 8 weights."""
    w = np.asarray(w, np.float32)
    k, n = w.shape
    blocks = [w[:, j:j + 16].reshape(-1) for j in range(0, n, 16)] or [w.reshape(-1)]
    return np.ascontiguousarray(np.concatenate(blocks), np.float32)


@register("MatMul")
def emit_matmul(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    a, b = node.inputs
    y = node.outputs[0]
    sa, sb = ctx.shape(a), ctx.shape(b)
    sa2 = (1,) + sa if len(sa) == 1 else sa          # (K,) -> (1, K)
    sb2 = sb + (1,) if len(sb) == 1 else sb          # (K,) -> (K, 1)
    m, k = sa2[-2:]
    k2, n = sb2[-2:]
    if k != k2:
        raise ctx.reject(f"inner dims differ: {sa} @ {sb}")
    ab, bb = sa2[:-2], sb2[:-2]
    rank = max(len(ab), len(bb))
    out_batch = tuple(max(x, y) for x, y in zip((1,) * (rank - len(ab)) + ab,
                                                 (1,) * (rank - len(bb)) + bb))
    shape, (s_a, s_b) = squeeze_dims(out_batch, _batch_strides(ab, m * k, out_batch),
                                     _batch_strides(bb, k * n, out_batch))
    if len(shape) > MAX_DIMS:
        raise ctx.reject(f"{len(shape)} batch dims; the kernel takes {MAX_DIMS}")
    bd = ctx.const(b)
    if bd is not None and len(sb) == 2:   # activations @ constant weight: packed, rows folded
        wp = ctx.weight(f"{b}#f32fc", pack_f32_fc(bd.reshape(k, n)))
        rows = ctx.t(a).numel // k
        return ctx.call("ef_fc_f32", [ctx.ptr(a), wp, "NULL", ctx.ptr(y, out=True)],
                        "ef_fc_f32_params", dict(m=rows, k=k, n=n))
    params = dict(m=m, k=k, n=n, batch_rank=len(shape), batch_shape=shape, a_stride=s_a,
                  b_stride=s_b)
    return ctx.call("ef_matmul_f32_fast", [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y, out=True)],
                    "ef_matmul_params", params)


@register("Gemm")
def emit_gemm(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    a, b = node.inputs[:2]
    c = node.inputs[2] if len(node.inputs) > 2 else ""
    y = node.outputs[0]
    ta, tb = int(node.attrs.get("transA", 0)), int(node.attrs.get("transB", 0))
    sa, sb = ctx.shape(a), ctx.shape(b)
    m, k = (sa[1], sa[0]) if ta else sa
    n = sb[0] if tb else sb[1]
    csm = csn = 0
    if c:
        csm, csn = broadcast_strides(ctx.shape(c), (m, n))
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    bd, cd = ctx.const(b), ctx.const(c)
    if bd is not None and not ta and alpha == 1.0 and (not c or (cd is not None and csm == 0)):
        wmat = bd.reshape(sb).T if tb else bd.reshape(sb)
        wp = ctx.weight(f"{b}#f32fc{'t' if tb else ''}", pack_f32_fc(wmat))
        bias = "NULL"
        if c:   # beta * c broadcast over the rows, formed in float32 as ef_gemm_f32 does
            flat = np.asarray(cd, np.float32).reshape(-1)
            row = np.broadcast_to(flat if csn else flat[:1], (n,))
            bias = ctx.extra("f32bias", np.float32(beta) * row, "float32")
        return ctx.call("ef_fc_f32", [ctx.ptr(a), wp, bias, ctx.ptr(y, out=True)],
                        "ef_fc_f32_params", dict(m=m, k=k, n=n))
    params = dict(m=m, k=k, n=n, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta,
                  c_stride_m=csm, c_stride_n=csn)
    return ctx.call("ef_gemm_f32", [ctx.ptr(a), ctx.ptr(b), ctx.ptr(c), ctx.ptr(y, out=True)],
                    "ef_gemm_params", params)
