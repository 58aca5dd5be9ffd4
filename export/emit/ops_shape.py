"""Data movement: reshape-likes (zero-copy when planned in place), Transpose, Slice,
Concat, Split, Gather, Expand, Tile, Pad, DepthToSpace/SpaceToDepth."""
from __future__ import annotations

import math

import numpy as np

from edgeformer.export.emit.ctx import (MAX_DIMS, EmitCtx, broadcast_strides, dense_strides,
                                        squeeze_dims)
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import DTYPE_BYTES, Node

from edgeformer.export.ir import RESHAPE_LIKE  # noqa: E402  (one definition)


def _es(ctx: EmitCtx, name: str) -> int:
    return DTYPE_BYTES[ctx.t(name).dtype]


def _out_ptr(ctx: EmitCtx, name: str, byte_delta: int) -> str:
    return f"(void *)(ef_arena + {ctx.offsets[name] + byte_delta})"


def strided_copy(ctx: EmitCtx, x: str, y: str, shape, src_stride, offset: int = 0,
                 dst_stride=None, dst_offset: int = 0) -> list[str]:
    dst_stride = dense_strides(tuple(shape)) if dst_stride is None else dst_stride
    shape, (s, d) = squeeze_dims(list(shape), list(src_stride), list(dst_stride))
    if len(shape) > MAX_DIMS:
        raise ctx.reject(f"needs {len(shape)} dims; the kernel takes {MAX_DIMS}")
    if (len(shape) == 1 and s == [1] and d == [1] and offset == 0 and dst_offset == 0
            and shape[0] * _es(ctx, y) == ctx.t(y).nbytes):   # dense to dense: one block copy
        return ctx.call("ef_copy_any", [str(ctx.t(y).nbytes), ctx.vptr(x),
                                        ctx.vptr(y, out=True)])
    params = dict(rank=len(shape), elem_size=_es(ctx, y), offset=offset, dst_offset=dst_offset,
                  shape=shape, stride=s, dst_stride=d)
    return ctx.call("ef_strided_copy_any", [ctx.vptr(x), ctx.vptr(y, out=True)],
                    "ef_strided_copy_params", params)


@register(*RESHAPE_LIKE, const_inputs=(1, 2))
def emit_reshape_like(ctx: EmitCtx, node: Node) -> list[str]:
    """Zero-copy when the planner put the output on the input (see memory.reshape_aliases)."""
    if node.op == "Dropout":
        training = node.inputs[2] if len(node.inputs) > 2 else ""
        if any(node.outputs[1:]) or (training and ctx.need_const(training, "training_mode").any()):
            raise ctx.reject("training mode and the mask output are not supported (inference only)")
    x, y = node.inputs[0], node.outputs[0]
    if not ctx.t(x).is_const and ctx.offsets[x] == ctx.offsets[y]:
        return ["/* in place: output aliases input, nothing to do */"]
    return ctx.call("ef_copy_any", [str(ctx.t(y).nbytes), ctx.vptr(x), ctx.vptr(y, out=True)])


@register("Transpose")
def emit_transpose(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    perm = list(node.attrs.get("perm", range(len(shape) - 1, -1, -1)))
    st = dense_strides(shape)
    return strided_copy(ctx, x, y, [shape[p] for p in perm], [st[p] for p in perm])


@register("Slice", const_inputs=(1, 2, 3, 4))
def emit_slice(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    ins = list(node.inputs) + [""] * 5
    if len(node.inputs) > 1:   # opset >= 10: starts, ends, axes, steps are inputs
        starts = ctx.need_const(ins[1], "starts").tolist()
        ends = ctx.need_const(ins[2], "ends").tolist()
        axes = ctx.need_const(ins[3], "axes").tolist() if ins[3] else range(len(starts))
        steps = ctx.need_const(ins[4], "steps").tolist() if ins[4] else [1] * len(starts)
    else:
        starts, ends = node.attrs["starts"], node.attrs["ends"]
        axes = node.attrs.get("axes", range(len(starts)))
        steps = [1] * len(starts)
    dense = dense_strides(shape)
    out, stride, offset = list(shape), list(dense), 0
    for s, e, a, k in zip(starts, ends, axes, steps):
        a %= len(shape)
        r = range(*slice(int(s), int(e), int(k)).indices(shape[a]))
        out[a] = len(r)
        offset += (r.start if len(r) else 0) * dense[a]
        stride[a] = dense[a] * int(k)
    return strided_copy(ctx, x, y, out, stride, offset)


@register("Concat")
def emit_concat(ctx: EmitCtx, node: Node) -> list[str]:
    y = node.outputs[0]
    oshape = ctx.shape(y)
    ax = node.attrs["axis"] % len(oshape)
    es = _es(ctx, y)
    outer = math.prod(oshape[:ax])
    row = math.prod(oshape[ax:]) * es
    code, delta = [], 0
    for x in node.inputs:
        chunk = math.prod(ctx.shape(x)[ax:]) * es
        if chunk == 0:
            continue
        params = dict(count=outer, block_bytes=chunk, src_stride=chunk, dst_stride=row)
        code += ctx.call("ef_block_copy_any", [ctx.vptr(x), _out_ptr(ctx, y, delta)],
                         "ef_block_copy_params", params)
        delta += chunk
    return code


@register("Split", const_inputs=(1,))
def emit_split(ctx: EmitCtx, node: Node) -> list[str]:
    x = node.inputs[0]
    ishape = ctx.shape(x)
    ax = node.attrs.get("axis", 0) % len(ishape)
    es = _es(ctx, x)
    outer = math.prod(ishape[:ax])
    row = math.prod(ishape[ax:]) * es
    code, delta = [], 0
    for y in node.outputs:
        chunk = math.prod(ctx.shape(y)[ax:]) * es
        params = dict(count=outer, block_bytes=chunk, src_stride=row, dst_stride=chunk)
        src = f"(const void *)((const uint8_t *){ctx.vptr(x)} + {delta})"
        code += ctx.call("ef_block_copy_any", [src, ctx.vptr(y, out=True)],
                         "ef_block_copy_params", params)
        delta += chunk
    return code


@register("Gather")
def emit_gather(ctx: EmitCtx, node: Node) -> list[str]:
    x, idx = node.inputs
    y = node.outputs[0]
    shape = ctx.shape(x)
    ax = node.attrs.get("axis", 0) % len(shape)
    params = dict(outer=math.prod(shape[:ax]), axis_len=shape[ax],
                  inner_bytes=math.prod(shape[ax + 1:]) * _es(ctx, x), n_idx=ctx.t(idx).numel)
    data = ctx.const(idx)
    if data is not None:
        if ((data < -shape[ax]) | (data >= shape[ax])).any():
            raise ctx.reject(f"constant indices out of range for axis size {shape[ax]}")
        iptr, kernel = ctx.extra("idx", data.reshape(-1), "int32"), "ef_gather_any"
    elif ctx.t(idx).dtype == "int64":
        iptr, kernel = ctx.ptr(idx), "ef_gather_i64idx_any"
    elif ctx.t(idx).dtype == "int32":
        iptr, kernel = ctx.ptr(idx), "ef_gather_any"
    else:
        raise ctx.reject(f"indices dtype {ctx.t(idx).dtype}; expected int32/int64")
    return ctx.call(kernel, [ctx.vptr(x), iptr, ctx.vptr(y, out=True)], "ef_gather_params",
                    params)


@register("Expand", const_inputs=(1,))
def emit_expand(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    oshape = ctx.shape(y)
    return strided_copy(ctx, x, y, oshape, broadcast_strides(ctx.shape(x), oshape))


@register("Tile", const_inputs=(1,))
def emit_tile(ctx: EmitCtx, node: Node) -> list[str]:
    """x (d0..dn) tiled r times is x viewed as (1,d0,1,d1,..) expanded to (r0,d0,r1,d1,..)."""
    x, y = node.inputs[0], node.outputs[0]
    reps = [int(r) for r in ctx.need_const(node.inputs[1], "repeats").reshape(-1)]
    shape, st = ctx.shape(x), dense_strides(ctx.shape(x))
    view, stride = [], []
    for r, d, s in zip(reps, shape, st):
        view += [r, d]
        stride += [0, s]
    return strided_copy(ctx, x, y, view, stride)


@register("Pad", const_inputs=(1, 2, 3))
def emit_pad(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    mode = node.attrs.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise ctx.reject(f"mode={mode!r}; supported: 'constant'")
    ins = list(node.inputs) + [""] * 4
    shape, oshape = ctx.shape(x), ctx.shape(y)
    rank = len(shape)
    pads = (ctx.need_const(ins[1], "pads").tolist() if ins[1] else list(node.attrs["pads"]))
    value = (ctx.need_const(ins[2], "constant_value").reshape(-1)[0] if ins[2]
             else node.attrs.get("value", 0.0))
    axes = [a % rank for a in ctx.need_const(ins[3], "axes").tolist()] if ins[3] else range(rank)
    begin, end = [0] * rank, [0] * rank
    for i, a in enumerate(axes):
        begin[a], end[a] = int(pads[i]), int(pads[i + len(axes)])
    vname = ctx.extra("value", np.asarray([value]), ctx.t(y).dtype)
    code = ctx.call("ef_fill_any", [str(ctx.t(y).numel), str(_es(ctx, y)), vname,
                                    ctx.vptr(y, out=True)])
    src_st, dst_st = dense_strides(shape), dense_strides(oshape)
    inner = [shape[d] - max(0, -begin[d]) - max(0, -end[d]) for d in range(rank)]
    if min(inner, default=1) <= 0:
        return code
    off = sum(max(0, -begin[d]) * src_st[d] for d in range(rank))
    doff = sum(max(0, begin[d]) * dst_st[d] for d in range(rank))
    return code + strided_copy(ctx, x, y, inner, src_st, off, dst_st, doff)


@register("DepthToSpace", "SpaceToDepth")
def emit_depth_space(ctx: EmitCtx, node: Node) -> list[str]:
    """Both are a 6-D transpose of a reshaped view."""
    x, y = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    b = int(node.attrs["blocksize"])
    crd = node.attrs.get("mode", "DCR") == "CRD"
    if node.op == "SpaceToDepth":
        view = (n, c, h // b, b, w // b, b)
        perm = (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4)
    elif not crd:
        view, perm = (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
    else:
        view, perm = (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
    st = dense_strides(view)
    return strided_copy(ctx, x, y, [view[p] for p in perm], [st[p] for p in perm])
