"""Reductions (ReduceMean/Sum/Max/... with axes as attribute or constant input) and the
global pools, which are ReduceMean/ReduceMax over the spatial axes."""
from __future__ import annotations

from edgeformer.export.emit.ctx import MAX_DIMS, EmitCtx, dense_strides, squeeze_dims
from edgeformer.export.emit.ops_elementwise import _require
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node

REDUCE = {"ReduceSum": "EF_RED_SUM", "ReduceMean": "EF_RED_MEAN", "ReduceMax": "EF_RED_MAX",
          "ReduceMin": "EF_RED_MIN", "ReduceProd": "EF_RED_PROD",
          "ReduceSumSquare": "EF_RED_SUM_SQUARE", "ReduceL1": "EF_RED_L1",
          "ReduceL2": "EF_RED_L2", "ReduceLogSum": "EF_RED_LOG_SUM",
          "ReduceLogSumExp": "EF_RED_LOG_SUM_EXP"}


def reduce_call(ctx: EmitCtx, op: str, x: str, y: str, axes: list[int]) -> list[str]:
    shape = ctx.shape(x)
    rank = len(shape)
    red = {a % rank for a in axes} if rank else set()
    strides = dense_strides(shape)
    oshape = [1 if d in red else s for d, s in enumerate(shape)]
    rshape = [s if d in red else 1 for d, s in enumerate(shape)]
    oshape, (ostride,) = squeeze_dims(oshape, strides)
    rshape, (rstride,) = squeeze_dims(rshape, strides)
    r = max(len(oshape), len(rshape))
    if r > MAX_DIMS:
        raise ctx.reject(f"{r} dims; the kernel takes {MAX_DIMS}")
    pad = lambda v, fill: [fill] * (r - len(v)) + v  # noqa: E731
    params = dict(op=op, rank=r, out_shape=pad(oshape, 1), out_stride=pad(ostride, 0),
                  red_shape=pad(rshape, 1), red_stride=pad(rstride, 0))
    return ctx.call("ef_reduce_f32", [ctx.ptr(x), ctx.ptr(y, out=True)], "ef_reduce_params",
                    params)


@register(*REDUCE, const_inputs=(1,))
def emit_reduce(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs[:1], ("float32",))
    x, y = node.inputs[0], node.outputs[0]
    if len(node.inputs) > 1 and node.inputs[1]:
        axes = [int(a) for a in ctx.need_const(node.inputs[1], "axes").reshape(-1)]
    else:
        axes = list(node.attrs.get("axes", []))
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            return ctx.call("ef_copy_any", [str(ctx.t(y).nbytes), ctx.vptr(x),
                                            ctx.vptr(y, out=True)])
        axes = list(range(len(ctx.shape(x))))
    return reduce_call(ctx, REDUCE[node.op], x, y, axes)


@register("GlobalAveragePool", "GlobalMaxPool")
def emit_global_pool(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    x, y = node.inputs[0], node.outputs[0]
    op = "EF_RED_MEAN" if node.op == "GlobalAveragePool" else "EF_RED_MAX"
    return reduce_call(ctx, op, x, y, list(range(2, len(ctx.shape(x)))))
