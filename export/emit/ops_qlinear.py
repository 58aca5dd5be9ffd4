"""The int8 fused ops made by export/passes/fold_qdq.py: ef.QMatMul, ef.QGemm, ef.QConv."""
from __future__ import annotations

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.ops_conv import _window
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node


def _requant_args(ctx: EmitCtx, node: Node) -> list[str]:
    return [ctx.extra("mult", node.attrs["mult"], "int32"),
            ctx.extra("shift", node.attrs["shift"], "int32")]


@register("ef.QMatMul", "ef.QGemm")
def emit_qmatmul(ctx: EmitCtx, node: Node) -> list[str]:
    x, w, b = node.inputs
    y = node.outputs[0]
    k = node.attrs["k"]
    n = ctx.shape(w)[0]
    params = dict(m=ctx.t(x).numel // k, k=k, n=n, x_zp=node.attrs["x_zp"],
                  y_zp=node.attrs["y_zp"], act_min=-128, act_max=127)
    args = [ctx.ptr(x), ctx.ptr(w), ctx.ptr(b), *_requant_args(ctx, node), ctx.ptr(y, out=True)]
    return ctx.call("ef_qmatmul_s8", args, "ef_qmatmul_params", params)


@register("ef.QConv")
def emit_qconv(ctx: EmitCtx, node: Node) -> list[str]:
    x, w, b = node.inputs
    y = node.outputs[0]
    ws = ctx.shape(w)
    g = _window(ctx, node, x, y, ws[2:])
    g.pop("pad_bottom"), g.pop("pad_right")
    n, c_in = ctx.shape(x)[:2]
    conv = dict(n=n, c_in=c_in, h=g.pop("h"), w=g.pop("w"), c_out=ws[0], **g,
                groups=int(node.attrs.get("group", 1)))
    params = dict(conv=conv, x_zp=node.attrs["x_zp"], y_zp=node.attrs["y_zp"], act_min=-128,
                  act_max=127)
    args = [ctx.ptr(x), ctx.ptr(w), ctx.ptr(b), *_requant_args(ctx, node), ctx.ptr(y, out=True)]
    return ctx.call("ef_qconv2d_s8", args, "ef_qconv2d_params", params)


# The int8 ops of the int8_* passes live next door; importing them here registers them
# with the ops that registry._load_all already loads.
from edgeformer.export.emit import ops_qint8  # noqa: E402, F401
