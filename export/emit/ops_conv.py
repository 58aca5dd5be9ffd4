"""Conv (1-D and 2-D, NCHW) and MaxPool/AveragePool; 1-D runs as 2-D with height 1."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.ops_elementwise import _require
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node


def _window(ctx: EmitCtx, node: Node, x: str, y: str, kernel: tuple[int, ...]) -> dict:
    """Spatial geometry as 2-D: sizes, strides, dilations, begin/end pads (auto_pad resolved)."""
    a = node.attrs
    xs, ys = ctx.shape(x)[2:], ctx.shape(y)[2:]
    nd = len(xs)
    if nd not in (1, 2):
        raise ctx.reject(f"{nd}-D spatial input; supported: 1-D and 2-D")
    strides = list(a.get("strides", [1] * nd))
    dil = list(a.get("dilations", [1] * nd))
    pads = list(a.get("pads", [0] * (2 * nd)))
    auto = a.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    if auto in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        pads = [0] * (2 * nd)
        if auto != "VALID":
            for i in range(nd):
                total = max(0, (ys[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - xs[i])
                small = total // 2
                pads[i], pads[i + nd] = ((small, total - small) if auto == "SAME_UPPER"
                                         else (total - small, small))
    elif auto != "NOTSET":
        raise ctx.reject(f"auto_pad={auto!r}; supported: NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    if nd == 1:  # as 2-D with a unit height
        xs, ys, kernel = (1, *xs), (1, *ys), (1, *kernel)
        strides, dil, pads = [1, *strides], [1, *dil], [0, pads[0], 0, pads[1]]
    return dict(h=xs[0], w=xs[1], oh=ys[0], ow=ys[1], kh=kernel[0], kw=kernel[1],
                stride_h=strides[0], stride_w=strides[1], pad_top=pads[0], pad_left=pads[1],
                pad_bottom=pads[2], pad_right=pads[3], dil_h=dil[0], dil_w=dil[1])


def pack_f32_conv(w: np.ndarray) -> np.ndarray:
    """(c_out, c_in, kh, kw) -> blocks of 16 output channels, each (c_in, kh, kw, 16) with the
    channel fastest (the last block c_out % 16 wide): ef_conv2d_f32_fast's layout."""
    w = np.asarray(w, np.float32)
    blocks = [w[o:o + 16].transpose(1, 2, 3, 0).reshape(-1) for o in range(0, w.shape[0], 16)]
    return np.ascontiguousarray(np.concatenate(blocks), np.float32)


@register("Conv")
def emit_conv(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    x, w = node.inputs[:2]
    b = node.inputs[2] if len(node.inputs) > 2 else ""
    y = node.outputs[0]
    ws = ctx.shape(w)
    g = _window(ctx, node, x, y, ws[2:])
    g.pop("pad_bottom"), g.pop("pad_right")
    n, c_in = ctx.shape(x)[:2]
    params = dict(n=n, c_in=c_in, h=g.pop("h"), w=g.pop("w"), c_out=ws[0], **g,
                  groups=int(node.attrs.get("group", 1)))
    wd = ctx.const(w)
    if wd is not None and params["groups"] == 1 and params["dil_w"] == 1 and params["kw"] <= 16:
        wp = ctx.weight(f"{w}#f32conv", pack_f32_conv(wd.reshape(ws[0], c_in, params["kh"], params["kw"])))
        return ctx.call("ef_conv2d_f32_fast", [ctx.ptr(x), wp, ctx.ptr(b), ctx.ptr(y, out=True)],
                        "ef_conv2d_params", params)
    return ctx.call("ef_conv2d_f32", [ctx.ptr(x), ctx.ptr(w), ctx.ptr(b), ctx.ptr(y, out=True)],
                    "ef_conv2d_params", params)


@register("MaxPool", "AveragePool")
def emit_pool(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    if len(node.outputs) > 1 and node.outputs[1]:
        raise ctx.reject("the Indices output is not supported")
    if node.attrs.get("storage_order", 0):
        raise ctx.reject("storage_order=1 is not supported")
    x, y = node.inputs[0], node.outputs[0]
    g = _window(ctx, node, x, y, tuple(node.attrs["kernel_shape"]))
    n, c = ctx.shape(x)[:2]
    params = dict(n=n, c=c, **g, count_include_pad=int(node.attrs.get("count_include_pad", 0)))
    kernel = "ef_maxpool2d_f32" if node.op == "MaxPool" else "ef_avgpool2d_f32"
    return ctx.call(kernel, [ctx.ptr(x), ctx.ptr(y, out=True)], "ef_pool2d_params", params)
