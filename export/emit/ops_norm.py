"""Softmax/LogSoftmax, LayerNormalization, BatchNormalization (inference)."""
from __future__ import annotations

import math

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.ops_elementwise import _require
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node


def _axis(ctx: EmitCtx, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ctx.reject(f"axis {axis} out of range for rank {rank}")
    return axis % max(rank, 1)


@register("Softmax", "LogSoftmax")
def emit_softmax(ctx: EmitCtx, node: Node) -> list[str]:
    """Opset >= 13: one axis. Older opsets coerce the input to 2-D at `axis` (default 1)."""
    _require(ctx, node.inputs, ("float32",))
    x, y = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    old = ctx.graph.meta.get("opset", 13) < 13
    ax = _axis(ctx, node.attrs.get("axis", 1 if old else -1), len(shape))
    outer = math.prod(shape[:ax])
    if old:
        axis_len, inner = math.prod(shape[ax:]), 1
    else:
        axis_len, inner = shape[ax], math.prod(shape[ax + 1:])
    params = dict(outer=outer, axis_len=axis_len, inner=inner, log=int(node.op == "LogSoftmax"))
    # one bounded exp per element (ef_f32_fast.h); ef_softmax_f32 is the reference
    return ctx.call("ef_softmax_f32_fast", [ctx.ptr(x), ctx.ptr(y, out=True)], "ef_softmax_params",
                    params)


def _period(ctx: EmitCtx, name: str, norm_shape: tuple[int, ...]) -> int:
    """scale/bias repeat with this period over the normalised block (a suffix broadcast)."""
    s = list(ctx.shape(name))
    while s and s[0] == 1:
        s.pop(0)
    if tuple(s) != tuple(norm_shape[len(norm_shape) - len(s):]):
        raise ctx.reject(f"{name} shape {ctx.shape(name)} does not broadcast as a suffix of "
                         f"{norm_shape}")
    return max(1, math.prod(s))


@register("LayerNormalization")
def emit_layernorm(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    x, scale = node.inputs[:2]
    bias = node.inputs[2] if len(node.inputs) > 2 else ""
    outs = list(node.outputs) + ["", ""]
    shape = ctx.shape(x)
    ax = _axis(ctx, node.attrs.get("axis", -1), len(shape))
    norm = shape[ax:]
    params = dict(outer=math.prod(shape[:ax]), size=math.prod(norm),
                  epsilon=float(node.attrs.get("epsilon", 1e-5)),
                  scale_period=_period(ctx, scale, norm),
                  bias_period=_period(ctx, bias, norm) if bias else 1)
    args = [ctx.ptr(x), ctx.ptr(scale), ctx.ptr(bias), ctx.ptr(outs[0], out=True),
            ctx.ptr(outs[1], out=True), ctx.ptr(outs[2], out=True)]
    return ctx.call("ef_layernorm_f32", args, "ef_layernorm_params", params)


@register("BatchNormalization")
def emit_batchnorm(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    if node.attrs.get("training_mode", 0) or any(node.outputs[1:]):
        raise ctx.reject("training mode (running mean/var outputs) is not supported; "
                         "export the model in eval mode")
    x, scale, bias, mean, var = node.inputs
    y = node.outputs[0]
    shape = ctx.shape(x)
    params = dict(n=shape[0], c=shape[1] if len(shape) > 1 else 1,
                  spatial=math.prod(shape[2:]), epsilon=float(node.attrs.get("epsilon", 1e-5)))
    args = [ctx.ptr(x), ctx.ptr(scale), ctx.ptr(bias), ctx.ptr(mean), ctx.ptr(var),
            ctx.ptr(y, out=True)]
    return ctx.call("ef_batchnorm_f32", args, "ef_batchnorm_params", params)
