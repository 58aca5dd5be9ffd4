"""ef.SpikeFC (export/passes/spike_fc.py): the event-driven int8 fully-connected layer of
ef_spike.c. Everything the kernel reads is one int32 stream (layout in ef_spike.h): the
params, one record per output (bias with the silent level folded in, then ef_qfc_s8's chan
requantisation), the same with qepilogue's all-integer requantisation where that is proved
exact for rows of spikes only, the weights transposed into tiles of 8 outputs, per input
k one row of int16 pairs, and the outputs of a row where nothing fired. model.c includes only ef_kernels.h, so the call carries its own
prototype (the one in ef_spike.h)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.ctx import EmitCtx
from edgeformer.export.emit.qepilogue import requant_consts
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node

TILE = 8
HEADER = 8   # int32 words of ef_spike_fc_params
PROTO = "int ef_spike_fc_s8(const int32_t *ws, const int8_t *x, int8_t *y);"


def _wrap32(v: np.ndarray) -> np.ndarray:
    return (np.asarray(v, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def spike_bounds(w: np.ndarray, folded: np.ndarray, x_lo: int, x_hi: int) -> np.ndarray:
    """Per output: the largest |acc| of a row whose inputs are all x_lo or x_hi:
    bias' + (x_hi - x_lo) * (a sum of some of the row's weights)."""
    w64 = w.astype(np.int64)
    reach = np.maximum(np.where(w64 > 0, w64, 0).sum(axis=1), -np.where(w64 < 0, w64, 0).sum(axis=1))
    return np.abs(folded) + abs(int(x_hi) - int(x_lo)) * reach


def requant_ref(acc: int, mult: int, shift: int) -> int:
    """ef_requant_ref (ef_qfast.h) in Python integers: acc * mult / 2^(31 - shift), rounded
    half to even."""
    total = 31 - int(shift)
    prod = int(acc) * int(mult)
    q = prod >> total
    rem, half = prod - (q << total), 1 << (total - 1)
    return q + 1 if rem > half or (rem == half and q & 1) else q


def silent_outputs(folded: np.ndarray, mult, shift, y_zp: int) -> np.ndarray:
    """The layer's output for a row where no input fired (every input x_lo): each output's
    requantised bias', as the dense kernels compute it (int32 accumulator)."""
    acc = _wrap32(folded)
    return np.array([min(127, max(-128, requant_ref(int(a), int(m), int(sh)) + y_zp))
                     for a, m, sh in zip(acc, mult, shift)], np.int64)


def pack_spike_fc(w: np.ndarray, bias, x_zp: int, y_zp: int, mult, shift, x_lo: int,
                  x_hi: int, m: int, epi: bool | None = None) -> np.ndarray:
    """w (n, k) int8 and the dense node's quantisation -> ef_spike_fc_s8's stream. The chan
    records hold for any input; the all-integer ones (epi) are added where every channel is
    proved exact for rows of spikes only (a far smaller accumulator than any int8 row when
    x_hi - x_lo is small). epi False leaves them out (tests exercise both)."""
    n, k = w.shape
    nt = -(-n // TILE)
    w64 = w.astype(np.int64)
    b = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
    mult = np.broadcast_to(np.asarray(mult, np.int64).reshape(-1), (n,))
    shift = np.broadcast_to(np.asarray(shift, np.int64).reshape(-1), (n,))
    folded = b + (int(x_lo) - int(x_zp)) * w64.sum(axis=1)
    bounds = spike_bounds(w, folded, x_lo, x_hi)
    hs = [requant_consts(int(mult[j]), int(shift[j]), y_zp, int(bounds[j])) for j in range(n)]
    epi = all(h is not None for h in hs) and epi is not False
    chan = np.zeros((nt * TILE, 4), np.int64)
    chan[:n, 0], chan[:n, 1] = folded, mult
    s = -1 - shift
    chan[:n, 2] = s
    chan[:n, 3] = np.where(s >= 1, (np.int64(1) << np.clip(s - 1, 0, 62)) - 1, 0)
    recs = [chan.ravel()]
    if epi:
        rec = np.zeros((nt * TILE, 4), np.int64)
        rec[:n, 0], rec[:n, 1] = folded, mult
        rec[:n, 2] = [h[0] for h in hs]
        rec[:n, 3] = [h[1] for h in hs]
        recs.append(rec.ravel())
    wp = np.zeros((nt * TILE, k), np.int64)
    wp[:n] = w64
    tiles = wp.reshape(nt, TILE, k).transpose(0, 2, 1)            # (tile, k, 8 outputs)
    words = (tiles[..., 0::2] & 0xFFFF) | ((tiles[..., 1::2] & 0xFFFF) << 16)
    y0 = np.zeros(-(-n // 4) * 4, np.int64)
    y0[:n] = silent_outputs(folded, mult, shift, y_zp) & 0xFF
    y0 = y0.reshape(-1, 4) @ np.array([1, 1 << 8, 1 << 16, 1 << 24], np.int64)   # little-endian bytes
    head = np.array([m, k, n, nt, x_lo, x_hi, int(epi), y_zp], np.int64)
    return _wrap32(np.concatenate([head, *recs, words.ravel(), y0]))


@register("ef.SpikeFC")
def emit_spike_fc(ctx: EmitCtx, node: Node) -> list[str]:
    x, w, b = node.inputs[:3]
    y = node.outputs[0]
    at = node.attrs
    n = ctx.shape(w)[0]
    wd = ctx.need_const(w, "weight").reshape(n, -1)
    m = ctx.t(x).numel // wd.shape[1]
    bias = ctx.need_const(b, "bias") if b else None
    stream = pack_spike_fc(wd, bias, at["x_zp"], at["y_zp"], at["mult"], at["shift"],
                           at["x_lo"], at["x_hi"], m)
    ws = ctx.weight(f"{w}#spike_fc", stream)
    return ctx.call_declared("ef_spike_fc_s8", [ws, ctx.ptr(x), ctx.ptr(y, out=True)], PROTO, "ef_spike.h")


LIF_PROTO = ("int ef_lif_s8(const int32_t *ws, const int8_t *x, const float *v_in, const float *s_in, "
             "float *v_out, float *s_f, int8_t *s_q, float *s_dq);")


def pack_lif(at: dict) -> np.ndarray:
    """ef.LIF's attrs -> ef_lif_params as int32 words (ef_spike.h; floats by their bits)."""
    ints = np.array([at["n"], at["x_zp"], at["state"], at.get("q_lo", 0), at.get("q_hi", 0)], np.int32)
    floats = np.array([at["x_scale"], at["leak"], at["one"], at["th"], at.get("d_lo", 0.0),
                       at.get("d_hi", 0.0)], np.float32)
    return np.concatenate([ints, floats.view(np.int32)])


@register("ef.LIF")
def emit_lif(ctx: EmitCtx, node: Node) -> list[str]:
    at = node.attrs
    outs = iter(node.outputs)
    named = {k: next(outs) if at[k] else "" for k in ("v_out", "s_f", "s_q", "s_dq")}
    ws = ctx.weight(f"{node.name}#lif", pack_lif(at))
    x, v_in, s_in = node.inputs
    args = [ws, ctx.ptr(x), ctx.ptr(v_in), ctx.ptr(s_in)] + [ctx.ptr(t, out=True) for t in named.values()]
    code = ctx.call_declared("ef_lif_s8", args, LIF_PROTO, "ef_spike.h")
    for t in outs:   # copies of the int8 spike for consumers dup_tokenwise gave their own
        code += ["if (st == EF_OK)"] + ["    " + c for c in ctx.call(
            "ef_copy_any", [str(at["n"]), ctx.vptr(named["s_q"]), ctx.vptr(t, out=True)])]
    return code
