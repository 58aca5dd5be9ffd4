"""The all-integer epilogue of ef_qfc_epi_s8 (ef_kernels.h), worked out and proved offline.

Per output channel the reference does: q = clamp8(requant(acc, mult, shift) + y_zp)
(ef_qmatmul_s8, round half to even), then optionally the bias Add of fuse_bias_add in float32
(ef_qbinary_s8_ref: q8((addc + (q - m_zp) * m_scale) / y_scale) + out_zp). The kernel does
    q = ssat8((h + (acc * mult) >> 32) >> s)   and   y = ssat8((q * A + B) >> 16),
with s kept in B's low byte (ASR by a register reads only that byte).
Both steps are exact, not approximate:
- requant: round half to even of acc * mult / 2^(32+s) equals floor((hi + 2^(s-1)) / 2^s)
  whenever no acc puts the product exactly half-way; a tie needs v2(acc) = 31 + s - z
  with z = trailing zeros of mult, impossible when 2^(31+s-z) exceeds the largest |acc| the
  weights, bias and int8 inputs allow (acc_bound).
- the Add: q has 256 values, so (A, B) is checked against the float32 result for each one.
A channel that fails either check makes the whole op keep the float epilogue (None).
"""
from __future__ import annotations

import numpy as np

SHIFT = 16           # the ">> 16" of ef_epi (ssat's immediate shift)
Q = np.arange(-128, 128, dtype=np.int64)


def _ctz(v: int) -> int:
    return (v & -v).bit_length() - 1


def requant_consts(mult: int, shift: int, zp: int, acc_bound: int = 1 << 31) -> tuple[int, int] | None:
    """(h, s) of the SMMLA requantisation, or None where it would not be exact for some
    |acc| <= acc_bound."""
    s = -1 - int(shift)
    if not 1 <= s <= 30:
        return None
    if mult != 0 and (1 << (31 + s - _ctz(int(mult) & 0xFFFFFFFF))) <= acc_bound:
        return None   # some accumulator could land exactly half-way: keep round-half-even
    h = (1 << (s - 1)) + int(zp) * (1 << s)
    return (h, s) if abs(h) < (1 << 30) else None   # hi + h stays in int32 (|hi| <= 2^30)


def add_map(addc: np.ndarray, m_scale: float, y_scale: float, m_zp: int, y_zp: int) -> np.ndarray:
    """(channels, 256): the reference bias Add of every int8 q, in float32 as the C does it
    (separate roundings: product, sum, quotient; rint half to even; saturate)."""
    v = (Q - m_zp).astype(np.float32) * np.float32(m_scale)          # (256,)
    t = (addc.astype(np.float32)[:, None] + v[None, :]) / np.float32(y_scale)
    r = np.rint(t).astype(np.float64) + y_zp
    return np.clip(r, -128, 127).astype(np.int64)


def _by_distance(a0: int, d_lo: int, d_hi: int) -> np.ndarray:
    """a0 - d, a0 + d for d in [d_lo, d_hi): the order a search nearest-first takes."""
    d = np.arange(d_lo, d_hi, dtype=np.int64)
    pairs = np.stack([a0 - d, a0 + d], axis=1).ravel()
    return pairs[1:] if d_lo == 0 else pairs        # d = 0 once


def fit_line(g: np.ndarray, slope: float, low: int = 0, span: int = 256) -> tuple[int, int] | None:
    """(A, B) with ssat8((q * A + B) >> SHIFT) == g[q + 128] for every int8 q, A near
    slope * 2^SHIFT (nearest first), and B's low byte equal to `low` (the kernel's ASR reads
    its shift there); None if no A within `span` steps has such a B."""
    return fit_lines(np.asarray(g)[None, :], slope, np.array([low]), span)[0]


CELLS = 1 << 13   # rows x candidates per (rows x candidates x 256) table: 16 MiB of int64


def fit_lines(g: np.ndarray, slope: float, lows: np.ndarray, span: int = 256) -> list[tuple[int, int] | None]:
    """fit_line for every row j of g (channels x 256) with its own low byte lows[j]; one op's
    rows share a0. Growing rings of candidates: almost every channel fits within a few steps
    of a0, so each ring is tried for all rows still without a line at once, in tables of at
    most CELLS rows x candidates."""
    one = 1 << SHIFT
    a0 = int(round(slope * one))
    big = np.int64(1) << 62
    g = np.asarray(g, np.int64)
    lows = np.asarray(lows, np.int64)
    out: list[tuple[int, int] | None] = [None] * g.shape[0]
    todo = np.arange(g.shape[0])
    edges = [d for d in (0, 4, 32) if d <= span] + [span + 1]
    for d_lo, d_hi in zip(edges, edges[1:]):
        cands = _by_distance(a0, d_lo, d_hi)                                   # (c,)
        qa = (cands[:, None] * Q[None, :])[None]                               # (1, c, 256)
        left = []
        for rows in np.array_split(todo, max(1, len(todo) * len(cands) // CELLS)):
            gg = g[rows][:, None, :]                                           # (r, 1, 256)
            lo = np.where(gg == -128, -big, gg * one - qa).max(axis=2)         # (r, c): B's range
            hi = np.where(gg == 127, big, (gg + 1) * one - 1 - qa).min(axis=2)
            lo = np.where(lo <= -big // 2, np.where(hi < big // 2, hi - 255, -one), lo)  # any B below hi
            b = lo + ((lows[rows][:, None] - lo) & 0xFF)                       # first B >= lo, that low byte
            ok = (lo <= hi) & (b <= hi) & (np.abs(cands)[None, :] * 128 + np.abs(b) < (1 << 31))
            first = ok.argmax(axis=1)                                          # the nearest A that fits
            found = ok[np.arange(len(rows)), first]
            for r in np.flatnonzero(found):
                out[int(rows[r])] = (int(cands[first[r]]), int(b[r, first[r]]))
            left.append(rows[~found])
        todo = np.concatenate(left) if left else todo
        if not todo.size:
            break
    return out


def acc_bounds(w: np.ndarray, bias, x_zp: int) -> np.ndarray:
    """Per output row of w (n, k): the largest |bias + sum_k w (x - x_zp)| over int8 x."""
    b = np.zeros(w.shape[0], np.int64) if bias is None else np.abs(np.asarray(bias, np.int64).reshape(-1))
    dx = max(abs(-128 - int(x_zp)), abs(127 - int(x_zp)))
    return b + np.abs(w.astype(np.int64)).sum(axis=1) * dx


def pack_epilogue(words: np.ndarray, chan: np.ndarray, n: int, y_zp: int, bounds: np.ndarray,
                  add: dict | None = None) -> np.ndarray | None:
    """ef_qfc_epi_s8's stream from pack_fc's words and chan (np, 4: folded bias, mult, s, rnd),
    the matmul's output zero point and acc_bounds; add: {addc, m_scale, y_scale, m_zp, y_zp}
    of the fused bias Add, or None. Per block of 4 outputs: their 4 folded biases, the
    block's weight words, 4 records {mult, h, A, B} (B's low byte: s). None unless every
    channel is provably exact."""
    ch = chan.reshape(-1, 4).astype(np.int64)
    npad = ch.shape[0]
    rec = np.zeros((npad, 4), np.int64)
    rec[:, 2], rec[:, 3] = 1 << SHIFT, 1     # padding outputs: s = 1, y = 0
    if add is not None:
        g = add_map(np.asarray(add["addc"][:n]), add["m_scale"], add["y_scale"], add["m_zp"], add["y_zp"])
        slope = float(np.float32(add["m_scale"])) / float(np.float32(add["y_scale"]))
    hss = []
    for j in range(n):
        hs = requant_consts(int(ch[j, 1]), -1 - int(ch[j, 2]), y_zp, int(bounds[j]))
        if hs is None:
            return None
        hss.append(hs)
    lows = np.array([hs[1] for hs in hss], np.int64)
    abs_ = fit_lines(g[:n], slope, lows) if add is not None else [(1 << SHIFT, int(lo)) for lo in lows]
    for j, (hs, ab) in enumerate(zip(hss, abs_)):
        if ab is None:
            return None
        rec[j] = (int(ch[j, 1]), hs[0], *ab)
    blocks = npad // 4
    w = words.astype(np.int64).reshape(blocks, -1)
    out = np.concatenate([ch[:, 0].reshape(blocks, 4), w, rec.reshape(blocks, 16)], axis=1)
    return (out.ravel() & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
