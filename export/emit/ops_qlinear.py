"""The int8 fused ops made by export/passes/fold_qdq.py: ef.QMatMul, ef.QGemm, ef.QConv.

Weights are constants, so they are packed here for the fast kernels (ef_qfc.c): int16 pairs
in the order SMLAD reads them, 4 output channels interleaved, the input zero point folded
into the bias. Both the portable and the Cortex-M DSP build read this one layout; the
row-major reference kernels (ef_qmatmul_s8, ef_qconv2d_s8) remain for k > KMAX.

A core with Helium (MVE) reads int8 weight rows instead (pack_rows, ef_qfc_rows_s8): one
vector load feeds 16 weights to VMLADAVA.S8, where the int16 pairs need gathers and give 8.
An Armv6-M core (no DSP extension: Cortex-M0/M0+) reads weights + 128 as bytes (pack_v6m,
ef_qfc_v6m_s8): immediate-offset LDRB and MULS, where the pairs need shifts to unpack. Both
take half the flash of the pairs. The emitter knows the core only through CORE_FEATURES
(export --board sets it from the board's core, targets/cores.py); without one (None), the C
is the same for every core.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.ops_conv import _window
from edgeformer.export.emit.qepilogue import acc_bounds, pack_epilogue
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node
from edgeformer.export.kernel_limits import QFC_KMAX as KMAX  # the widened row's stack bound

# What the target core's kernels may use (targets/cores.py Target.features: "dsp", "mve", ...;
# empty for v6-M); None: no core named, a portable artifact, the same C for every core.
CORE_FEATURES: ContextVar[frozenset[str] | None] = ContextVar("edgeformer_core_features", default=None)

# The prototypes of ef_qfc_rows.h / ef_qfc_v6m.h, declared in the call's own block: model.c
# includes ef_kernels.h only.
_DECL = "extern int {}(const ef_qfc_params *, const int8_t *, const int32_t *, int8_t *);"


@contextmanager
def core_features(features: Iterable[str]) -> Iterator[None]:
    """Emit for a core with these features (e.g. the board's target.features) inside the block."""
    token = CORE_FEATURES.set(frozenset(features))
    try:
        yield
    finally:
        CORE_FEATURES.reset(token)


def weight_layout(features) -> str | None:
    """The int8 weight layout a core with these features gets: "rows" (Helium), "v6m" (no DSP
    extension), or None (the portable int16 pairs, also when no core is named)."""
    if features is None:
        return None
    return "rows" if "mve" in features else ("v6m" if "dsp" not in features else None)


def _ceil4(v: int) -> int:
    return -(-v // 4) * 4


def pack_fc(w: np.ndarray, bias, x_zp: int, mult, shift) -> tuple[np.ndarray, np.ndarray]:
    """w (n, k) int8 -> (words, chan) in ef_qfc_s8's layout (ef_kernels.h):
    words int32 (np * kp / 2,): per 4 outputs, per 4 k, per output j the pairs
    (w[j][k], w[j][k+2]), (w[j][k+1], w[j][k+3]); chan int32 (np, 4): bias - x_zp * sum_k w,
    mult, s = -1 - shift and the rounding constant rnd = 2^(s-1) - 1 when s >= 1, else 0
    (ef_requant_s in ef_qfast.h; padding outputs: s = 1, all else 0)."""
    n, k = w.shape
    npad, kp = _ceil4(n), _ceil4(k)
    wq = np.zeros((npad, kp), np.int64)
    wq[:n, :k] = w
    blk = wq.reshape(npad // 4, 4, kp // 4, 4).transpose(0, 2, 1, 3)  # block, chunk, j, i
    lo, hi = blk[..., [0, 1]], blk[..., [2, 3]]                        # pairs (i0,i2), (i1,i3)
    words = ((lo & 0xFFFF) | ((hi & 0xFFFF) << 16)).astype(np.uint32).view(np.int32).ravel()
    b = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
    folded = b - int(x_zp) * w.astype(np.int64).sum(axis=1)
    chan = np.zeros((npad, 4), np.int64)
    chan[:, 2] = 1
    chan[:n, 0] = folded
    chan[:n, 1] = np.broadcast_to(np.asarray(mult, np.int64), (n,))
    chan[:n, 2] = -1 - np.broadcast_to(np.asarray(shift, np.int64), (n,))
    s = chan[:, 2]
    chan[:, 3] = np.where(s >= 1, (np.int64(1) << np.clip(s - 1, 0, 62)) - 1, 0)
    # int32 wrap-around, as the reference's own int32 accumulator would
    return words, (chan & 0xFFFFFFFF).astype(np.uint32).view(np.int32).ravel()


def pack_conv(w: np.ndarray, groups: int, bias, x_zp: int, mult, shift):
    """w (c_out, c_in/groups, kh, kw) -> ef_qconv2d_fc_s8's words and chan, group by group."""
    cout = w.shape[0]
    g_out = cout // groups
    b = np.zeros(cout, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(cout)
    m = np.broadcast_to(np.asarray(mult, np.int64), (cout,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (cout,))
    parts = [pack_fc(w[g * g_out:(g + 1) * g_out].reshape(g_out, -1), b[g * g_out:(g + 1) * g_out],
                     x_zp, m[g * g_out:(g + 1) * g_out], s[g * g_out:(g + 1) * g_out])
             for g in range(groups)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def pack_rows(w: np.ndarray, stream: np.ndarray) -> np.ndarray:
    """w (n, k) int8 and ef_qfc_epi_s8's stream (pack_epilogue) -> ef_qfc_rows_s8's stream
    (ef_qfc_rows.h): a header word, 1 when the epilogue's second stage (a fused Add) is
    needed, else 0; then per block of 4 outputs the same 4 folded biases, per 16 k each
    output's 16 int8 weights (zeros past k), then the block's records as vectors mult, h,
    24 - s, and A, B with the second stage (s: B's low byte). Without a fused Add every
    record has A = 2^16 and 0 <= B < 2^16, and the second stage is the identity on int8."""
    n, k = w.shape
    npad, kp = _ceil4(n), -(-k // 16) * 16
    blocks = npad // 4
    s = stream.reshape(blocks, -1).astype(np.int64)
    rec = s[:, -16:].reshape(blocks, 4, 4)                                  # block, j, field
    two = not (np.all(rec[..., 2] == 1 << 16) and np.all((rec[..., 3] >= 0) & (rec[..., 3] < 1 << 16)))
    wq = np.zeros((npad, kp), np.int8)
    wq[:n, :k] = w
    rows = np.ascontiguousarray(wq.reshape(blocks, 4, kp // 16, 16).transpose(0, 2, 1, 3))
    rows = rows.reshape(blocks, 4 * kp).view("<i4")                        # kp words a block
    vecs = [rec[..., 0], rec[..., 1], 24 - (rec[..., 3] & 0xFF)] + ([rec[..., 2], rec[..., 3]] if two else [])
    out = np.concatenate([np.array([int(two)], np.int64),
                          np.concatenate([s[:, :4], rows.astype(np.int64), *vecs], axis=1).ravel()])
    return (out & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def pack_v6m(w: np.ndarray, stream: np.ndarray) -> np.ndarray:
    """w (n, k) int8 and ef_qfc_epi_s8's stream -> ef_qfc_v6m_s8's stream (ef_qfc_v6m.h): per
    block of 4 outputs the folded biases less 128 * sum_k w, per 8 k each output's 8 weights
    + 128 as bytes (zeros past k), then the block's 4 records as they are."""
    n, k = w.shape
    npad, kp = _ceil4(n), -(-k // 8) * 8
    blocks = npad // 4
    s = stream.reshape(blocks, -1).astype(np.int64)
    wq = np.zeros((npad, kp), np.int64)
    wq[:n, :k] = w.astype(np.int64) + 128
    bias = s[:, :4] - 128 * wq.reshape(blocks, 4, kp).sum(axis=2) + 128 * 128 * np.where(
        np.arange(npad).reshape(blocks, 4) < n, k, 0)
    rows = np.ascontiguousarray(wq.astype(np.uint8).reshape(blocks, 4, kp // 8, 8).transpose(0, 2, 1, 3))
    rows = rows.reshape(blocks, 4 * kp).view("<i4")                        # kp words a block
    out = np.concatenate([bias, rows.astype(np.int64), s[:, -16:]], axis=1)
    return (out.ravel() & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def _requant_args(ctx: EmitCtx, node: Node) -> list[str]:
    return [ctx.extra("mult", node.attrs["mult"], "int32"),
            ctx.extra("shift", node.attrs["shift"], "int32")]


def _bias(ctx: EmitCtx, b: str):
    return ctx.need_const(b, "bias") if b else None


@register("ef.QMatMul", "ef.QGemm")
def emit_qmatmul(ctx: EmitCtx, node: Node) -> list[str]:
    x, w, b = node.inputs[:3]
    y = node.outputs[0]
    k = node.attrs["k"]
    n = ctx.shape(w)[0]
    m = ctx.t(x).numel // k
    layout = weight_layout(CORE_FEATURES.get())
    if layout is not None and (layout == "rows" or k <= KMAX):
        rows = _emit_rows(ctx, node, ctx.need_const(w, "weight").reshape(n, k), m, v6m=layout == "v6m")
        if rows is not None:
            return rows
    if k > KMAX:
        params = dict(m=m, k=k, n=n, x_zp=node.attrs["x_zp"], y_zp=node.attrs["y_zp"],
                      act_min=-128, act_max=127)
        args = [ctx.ptr(x), ctx.ptr(w), ctx.ptr(b), *_requant_args(ctx, node),
                ctx.ptr(y, out=True)]
        return ctx.call("ef_qmatmul_s8", args, "ef_qmatmul_params", params)
    wd = ctx.need_const(w, "weight").reshape(n, k)
    words, chan = pack_fc(wd, _bias(ctx, b), node.attrs["x_zp"], node.attrs["mult"],
                          node.attrs["shift"])
    params = dict(m=m, k=k, n=n, kp=_ceil4(k), y_zp=node.attrs["y_zp"], act_min=-128,
                  act_max=127)
    at = node.attrs
    add = _add_of(ctx, node, n)
    stream = pack_epilogue(words, chan, n, at["y_zp"], acc_bounds(wd, _bias(ctx, b), at["x_zp"]),
                           add)
    if stream is not None:   # proved equal offline: the all-integer epilogue
        args = [ctx.ptr(x), ctx.weight(f"{w}#fc_epi", stream), ctx.ptr(y, out=True)]
        return ctx.call("ef_qfc_epi_s8", args, "ef_qfc_params", params)
    if add is None:   # as many bytes as the stream would take: flash does not depend on the proof
        chan = np.concatenate([chan, np.zeros(len(chan) // 4, np.int32)])
    args = [ctx.ptr(x), ctx.weight(f"{w}#fc", words), ctx.extra("chan", chan, "int32")]
    if add is None:
        return ctx.call("ef_qfc_s8", args + [ctx.ptr(y, out=True)], "ef_qfc_params", params)
    aparams = dict(fc=params, m_scale=add["m_scale"], y_scale=add["y_scale"], m_zp=add["m_zp"],
                   y_zp=add["y_zp"])
    args += [ctx.extra("addc", add["addc"], "float32"), ctx.ptr(y, out=True)]
    return ctx.call("ef_qfc_add_s8", args, "ef_qfc_add_params", aparams)


def _add_of(ctx: EmitCtx, node: Node, n: int) -> dict | None:
    """The bias Add folded in by passes/fuse_bias_add.py, as pack_epilogue takes it (or None)."""
    at = node.attrs
    if "add_y_scale" not in at:
        return None
    addc = add_terms(ctx.need_const(node.inputs[3], "add constant").reshape(n), at["add_c_zp"],
                     at["add_c_scale"])
    return dict(addc=addc, m_scale=at["add_m_scale"], y_scale=at["add_y_scale"], m_zp=at["add_m_zp"],
                y_zp=at["add_y_zp"])


def _emit_rows(ctx: EmitCtx, node: Node, wd: np.ndarray, m: int, v6m: bool) -> list[str] | None:
    """ef_qfc_rows_s8 for a Helium core (any k: it keeps no row on the stack) or ef_qfc_v6m_s8
    for an Armv6-M one (k <= KMAX), or None where the all-integer epilogue is not proved (the
    caller's kernels keep the float one)."""
    x, w, b = node.inputs[:3]
    n, k = wd.shape
    at = node.attrs
    words, chan = pack_fc(wd, _bias(ctx, b), at["x_zp"], at["mult"], at["shift"])
    stream = pack_epilogue(words, chan, n, at["y_zp"], acc_bounds(wd, _bias(ctx, b), at["x_zp"]),
                           _add_of(ctx, node, n))
    if stream is None:
        return None
    kernel, pack, grid = ("ef_qfc_v6m_s8", pack_v6m, 8) if v6m else ("ef_qfc_rows_s8", pack_rows, 16)
    params = dict(m=m, k=k, n=n, kp=-(-k // grid) * grid, y_zp=at["y_zp"], act_min=-128, act_max=127)
    args = [ctx.ptr(x), ctx.weight(f"{w}#{kernel}", pack(wd, stream)), ctx.ptr(node.outputs[0], out=True)]
    return ["{ " + _DECL.format(kernel), *("  " + ln for ln in ctx.call(kernel, args, "ef_qfc_params", params)), "}"]


def add_terms(c: np.ndarray, c_zp: int, c_scale: float) -> np.ndarray:
    """(c - c_zp) * c_scale per channel in float32, as ef_qbinary_s8 forms it per element,
    padded with zeros to a multiple of 4 channels (ef_qfc_add_s8's addc)."""
    v = (c.astype(np.int32) - np.int32(c_zp)).astype(np.float32) * np.float32(c_scale)
    out = np.zeros(_ceil4(c.size), np.float32)
    out[:c.size] = v
    return out


@register("ef.QConv")
def emit_qconv(ctx: EmitCtx, node: Node) -> list[str]:
    x, w, b = node.inputs
    y = node.outputs[0]
    ws = ctx.shape(w)
    g = _window(ctx, node, x, y, ws[2:])
    g.pop("pad_bottom"), g.pop("pad_right")
    n, c_in = ctx.shape(x)[:2]
    groups = int(node.attrs.get("group", 1))
    conv = dict(n=n, c_in=c_in, h=g.pop("h"), w=g.pop("w"), c_out=ws[0], **g, groups=groups)
    at = node.attrs
    k = int(np.prod(ws[1:]))
    if k > KMAX:
        params = dict(conv=conv, x_zp=at["x_zp"], y_zp=at["y_zp"], act_min=-128, act_max=127)
        args = [ctx.ptr(x), ctx.ptr(w), ctx.ptr(b), *_requant_args(ctx, node),
                ctx.ptr(y, out=True)]
        return ctx.call("ef_qconv2d_s8", args, "ef_qconv2d_params", params)
    if weight_layout(CORE_FEATURES.get()) == "rows" and groups == 1 and k <= KMAX:
        rows = _emit_conv_rows(ctx, node, conv, k)
        if rows is not None:
            return rows
    words, chan = pack_conv(ctx.need_const(w, "weight"), groups, _bias(ctx, b), at["x_zp"],
                            at["mult"], at["shift"])
    params = dict(conv=conv, kp=_ceil4(k), x_zp=at["x_zp"], y_zp=at["y_zp"], act_min=-128,
                  act_max=127)
    args = [ctx.ptr(x), ctx.weight(f"{w}#fc", words), ctx.extra("chan", chan, "int32"),
            ctx.ptr(y, out=True)]
    return ctx.call("ef_qconv2d_fc_s8", args, "ef_qconv2d_fc_params", params)


def _emit_conv_rows(ctx: EmitCtx, node: Node, conv: dict, k: int) -> list[str] | None:
    """ef_qconv2d_rows_s8 (groups == 1) for a Helium core, or None where the all-integer
    epilogue is not proved."""
    x, w, b = node.inputs
    at = node.attrs
    wd = ctx.need_const(w, "weight").reshape(conv["c_out"], k)
    words, chan = pack_fc(wd, _bias(ctx, b), at["x_zp"], at["mult"], at["shift"])
    stream = pack_epilogue(words, chan, conv["c_out"], at["y_zp"], acc_bounds(wd, _bias(ctx, b), at["x_zp"]))
    if stream is None:
        return None
    params = dict(conv=conv, kp=-(-k // 16) * 16, x_zp=at["x_zp"], y_zp=at["y_zp"], act_min=-128, act_max=127)
    args = [ctx.ptr(x), ctx.weight(f"{w}#conv_rows", pack_rows(wd, stream)), ctx.ptr(node.outputs[0], out=True)]
    decl = ("extern int ef_qconv2d_rows_s8(const ef_qconv2d_fc_params *, const int8_t *, const int32_t *, "
            "int8_t *);")
    return ["{ " + decl, *("  " + ln for ln in ctx.call("ef_qconv2d_rows_s8", args, "ef_qconv2d_fc_params", params)),
            "}"]


# The int8 ops of the int8_* passes live next door; importing them here registers them
# with the ops that registry._load_all already loads.
from edgeformer.export.emit import ops_qint8  # noqa: E402, F401
