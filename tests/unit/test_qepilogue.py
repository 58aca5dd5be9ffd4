"""The offline proofs behind ef_qfc_epi_s8's integer epilogue (export/emit/qepilogue.py),
checked against brute force in Python. Provenance: numpy default_rng(SEED)."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.qepilogue import Q, SHIFT, add_map, fit_line, fit_lines, requant_consts
from edgeformer.export.passes.fold_qdq import quantize_multiplier

SEED = 20240612


def _ref_requant(acc: np.ndarray, mult: int, shift: int, zp: int) -> np.ndarray:
    """ef_requantize of ef_qlinear.c: half to even, + zp, clamp."""
    t = 31 - shift
    prod = acc.astype(object) * mult
    out = []
    for p in prod:
        q, rem = divmod(p, 1 << t)
        half = 1 << (t - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        out.append(min(127, max(-128, q + zp)))
    return np.array(out, np.int64)


def _fast_requant(acc: np.ndarray, mult: int, h: int, s: int) -> np.ndarray:
    hi = (acc.astype(np.int64) * mult) >> 32
    return np.clip((hi + h) >> s, -128, 127)


def test_requant_equal_when_no_tie_is_possible():
    rng = np.random.default_rng(SEED)
    for _ in range(40):
        mult, shift = quantize_multiplier(float(rng.uniform(1e-5, 0.2)))
        zp = int(rng.integers(-128, 128))
        bound = int(rng.integers(1 << 10, 1 << 22))
        hs = requant_consts(mult, shift, zp, bound)
        assert hs is not None, (mult, shift, bound)
        acc = np.concatenate([rng.integers(-bound, bound + 1, 3000), [-bound, bound, 0, 1, -1]])
        np.testing.assert_array_equal(_fast_requant(acc, mult, *hs), _ref_requant(acc, mult, shift, zp))


def test_requant_refused_where_a_tie_is_reachable():
    # mult = 2^30, shift = -3: t = 34, acc = 8 gives exactly half (the 'fc ties' kernel case)
    assert requant_consts(1 << 30, -3, 0, 1 << 10) is None
    acc = np.array([8, 24, -8])
    s = 2
    h = 1 << (s - 1)
    assert (_fast_requant(acc, 1 << 30, h, s) != _ref_requant(acc, 1 << 30, -3, 0)).any()
    # a bound below the first tie makes the same constants exact
    assert requant_consts(1 << 30, -3, 0, 7) is not None
    assert requant_consts(1 << 30, 0, 0) is None   # s < 1: no SMMLA form


def test_fit_line_reproduces_the_float_add():
    rng = np.random.default_rng(SEED + 1)
    hits = 0
    for _ in range(30):
        ms, cs, ys = (float(np.float32(v)) for v in rng.uniform(2e-4, 0.05, 3))
        c = rng.integers(-128, 128, 16)
        addc = (c - int(rng.integers(-10, 10))).astype(np.float32) * np.float32(cs)
        mzp, yzp = (int(v) for v in rng.integers(-10, 10, 2))
        g = add_map(addc, ms, ys, mzp, yzp)
        for j in range(16):
            low = j + 1
            ab = fit_line(g[j], ms / ys, low)
            if ab is None:
                continue
            hits += 1
            a, b = ab
            assert b & 0xFF == low
            got = np.clip((Q * a + b) >> SHIFT, -128, 127)
            np.testing.assert_array_equal(got, g[j])
    assert hits >= 400   # almost every channel has an exact line


def test_fit_line_refuses_a_non_line():
    g = np.clip(Q, -128, 127).copy()
    g[200] += 3   # not monotone: no line fits
    assert fit_line(g, 1.0) is None


def _nearest_line(g: np.ndarray, slope: float, low: int, span: int):
    """Brute force: A = a0, a0 - 1, a0 + 1, ... up to span steps; the first with some B of that
    low byte reproducing g for all 256 q (the smallest such B)."""
    a0 = round(slope * (1 << SHIFT))
    for a in [a0] + [a0 + s * d for d in range(1, span + 1) for s in (-1, 1)]:
        lo, hi = -(1 << 62), 1 << 62
        for q, want in zip(Q, g):
            if want != -128:
                lo = max(lo, int(want) * (1 << SHIFT) - int(q) * a)
            if want != 127:
                hi = min(hi, (int(want) + 1) * (1 << SHIFT) - 1 - int(q) * a)
        if lo > hi:
            continue
        if lo <= -(1 << 61):
            lo = hi - 255 if hi < (1 << 61) else -(1 << SHIFT)
        b = lo + ((low - lo) & 0xFF)
        if b <= hi and abs(a) * 128 + abs(b) < (1 << 31):
            return a, b
    return None


def test_fit_lines_finds_the_nearest_line_of_every_row():
    """The vectorised ring search gives every row brute force's (A, B) or None: near lines,
    far lines (found only in the outer ring) and refusals alike; fit_line is its one-row case."""
    rng = np.random.default_rng(SEED + 2)
    for case in range(6):
        ms, cs, ys = (float(np.float32(v)) for v in rng.uniform(2e-4, 0.05, 3))
        addc = rng.integers(-128, 128, 12).astype(np.float32) * np.float32(cs)
        g = add_map(addc, ms, ys, int(rng.integers(-10, 10)), int(rng.integers(-10, 10)))
        slope = ms / ys * (1.0 if case % 3 else 1.0 + rng.uniform(1e-3, 5e-3))   # some lines lie far from a0
        g[3, 128:131] = (127, -128, 127)                                          # up, down, up: no line
        lows = rng.integers(1, 31, len(g))
        for span in (256, 20, 2):
            want = [_nearest_line(g[j], slope, int(lows[j]), span) for j in range(len(g))]
            assert fit_lines(g, slope, lows, span) == want
            assert fit_line(g[5], slope, int(lows[5]), span) == want[5]
            if span == 256:   # far lines too: every row but the non-line one
                assert want[3] is None and sum(w is not None for w in want) == len(want) - 1
