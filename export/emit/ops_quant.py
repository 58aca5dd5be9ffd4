"""DequantizeLinear / QuantizeLinear, per-tensor or per-axis (int8, uint8; int32 dequant)."""
from __future__ import annotations

import math

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node

SUFFIX = {"int8": "s8", "uint8": "u8", "int32": "s32"}


def _layout(ctx: EmitCtx, node: Node, x: str, scale: str) -> dict:
    shape = ctx.shape(x)
    if ctx.t(scale).numel == 1:
        return dict(outer=1, axis_len=1, inner=max(1, math.prod(shape)))
    if len(ctx.shape(scale)) != 1 or node.attrs.get("block_size", 0):
        raise ctx.reject("blocked quantisation is not supported; use per-tensor or per-axis")
    ax = node.attrs.get("axis", 1) % len(shape)
    return dict(outer=math.prod(shape[:ax]), axis_len=shape[ax], inner=math.prod(shape[ax + 1:]))


@register("DequantizeLinear", "QuantizeLinear", const_inputs=(1, 2))
def emit_qdq(ctx: EmitCtx, node: Node) -> list[str]:
    x, scale = node.inputs[:2]
    zp = node.inputs[2] if len(node.inputs) > 2 else ""
    y = node.outputs[0]
    q = x if node.op == "DequantizeLinear" else y
    qt = ctx.t(q).dtype
    if qt not in SUFFIX or (qt == "int32" and node.op == "QuantizeLinear"):
        raise ctx.reject(f"quantised dtype {qt}; supported: int8, uint8 (and int32 dequant)")
    if ctx.t(scale).dtype != "float32":
        raise ctx.reject(f"scale dtype {ctx.t(scale).dtype}; expected float32")
    params = _layout(ctx, node, x, scale)
    kernel = (f"ef_dequantize_{SUFFIX[qt]}_f32" if node.op == "DequantizeLinear"
              else f"ef_quantize_f32_{SUFFIX[qt]}")
    args = [ctx.ptr(x), ctx.ptr(scale), ctx.ptr(zp), ctx.ptr(y, out=True)]
    return ctx.call(kernel, args, "ef_quant_params", params)
