"""The fast int8 kernels stay bit-exact to the reference kernels on issue 17's cores: the
Cortex-M55 (Helium: ef_mve.c) on mps3-an547, the M33 (DSP extension) on mps2-an505 and the
v6-M path (no SMLAD, SXTB16, hardware divide or unaligned access) on the nRF51 stand-in.
The cases, driver and seed are test_kernels_fast.py's; the M0 build links for the RP2040
board, whose 264 KiB hold the driver's 96 KiB buffer (the micro:bit's 16 KiB do not).

ef_qfc_rows_s8 (the Helium weight layout, ops_qlinear.pack_rows) runs through the same driver
in place of ef_qfc_epi_s8, against ef_qmatmul_s8 (then ef_qbinary_s8_ref for a fused Add):
its MVE path on mps3-an547, its plain C path on the host; with it, more cases of the other
kernels with a Helium path (LayerNorm, attention's act x act, softmax, the residual add, LUT)
and the convolution on the same rows (ef_qconv2d_rows_s8).
ef_qfc_v6m_s8 (the v6-M layout, pack_v6m) likewise, on the host and the M0 stand-in.
Two small drivers of their own check the Helium paths of ef_strided_copy_any's byte lines
(ef_mve_copy8) and of per-tensor ef_quantize_f32_s8 (ef_mve_quant_s8) against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from tests.kernel_harness import i32, run_host_driver, run_target_driver
from tests.unit.test_kernels_fast import (DRIVER, SEED, _aa_case, _cases, _check, _conv_case, _f32, _fc_epi_case,
                                         _i32, _ln_case, _lut_case, _qbin_case, _softmax_case,
                                         _stream, _tab)

from edgeformer.export.emit.ops_qint8 import softmax_exp_table
from edgeformer.export.emit.ops_qlinear import pack_fc, pack_rows, pack_v6m
from edgeformer.export.emit.qepilogue import acc_bounds, pack_epilogue, requant_consts
from edgeformer.export.passes.fold_qdq import quantize_multiplier

EPI_CALL = "ef_qfc_epi_s8((void *)b[1], (void *)b[2], (void *)b[8], (void *)fast);"


def _driver(kernel: str, header: str) -> str:
    """test_kernels_fast's driver with `kernel` (ef_qfc_epi_s8's signature) in its place."""
    return DRIVER.replace('#include "ef_kernels.h"', f'#include "{header}"').replace(
        EPI_CALL, EPI_CALL.replace("ef_qfc_epi_s8", kernel))


CONV_CALL = "ef_qconv2d_fc_s8((void *)b[1], (void *)b[2], (void *)b[7], (void *)b[8], (void *)fast);"
ROWS_DRIVER = _driver("ef_qfc_rows_s8", "ef_qfc_rows.h").replace(
    CONV_CALL, "ef_qconv2d_rows_s8((void *)b[1], (void *)b[2], (void *)b[8], (void *)fast);")
V6M_DRIVER = _driver("ef_qfc_v6m_s8", "ef_qfc_v6m.h")


def _rows_case(rng, m, k, n, add=True, r=128, pack=pack_rows, kgrid=16):
    """_fc_epi_case's layer with its stream repacked by `pack` (kp: k rounded up to kgrid)."""
    kind, bufs, nout, nscr = _fc_epi_case(rng, m, k, n, add, r)
    w = np.frombuffer(bufs[3], np.int8).reshape(n, k)
    y_zp = int(np.frombuffer(bufs[1], np.int32)[4])
    bufs[1] = i32(m, k, n, -(-k // kgrid) * kgrid, y_zp, -128, 127)
    bufs[8] = pack(w, np.frombuffer(bufs[8], np.int32)).tobytes()
    return kind, bufs, nout, nscr


def _conv_rows_case(rng, c_in, h, wd, c_out, kh, kw, stride, pad):
    """ef_qconv2d_rows_s8 vs ef_qconv2d_s8: scales that keep the outputs inside int8 and prove
    the integer epilogue (as a trained model's do)."""
    k = c_in * kh * kw
    kind, bufs, nout, nscr = _conv_case(rng, c_in, h, wd, c_out, kh, kw, stride, pad, 1)
    w = np.frombuffer(bufs[3], np.int8).reshape(c_out, k)
    b = np.frombuffer(bufs[4], np.int32)
    mq = [quantize_multiplier(float(v) * 3 / (np.sqrt(k) * 128 * 128)) for v in rng.uniform(5, 100, c_out)]
    mult, shift = np.array([q[0] for q in mq], np.int32), np.array([q[1] for q in mq], np.int32)
    geo, (x_zp, y_zp) = bufs[0][:-16], np.frombuffer(bufs[0][-16:-8], np.int32)
    words, chan = pack_fc(w, b, int(x_zp), mult, shift)
    ws = pack_epilogue(words, chan, c_out, int(y_zp), acc_bounds(w, b, int(x_zp)))
    assert ws is not None, "the generator's channels should all be provable"
    bufs[0] = geo + i32(x_zp, y_zp, -128, 127)
    bufs[1] = geo + i32(-(-k // 16) * 16, x_zp, y_zp, -128, 127)
    bufs[5], bufs[6], bufs[8] = mult.tobytes(), shift.tobytes(), pack_rows(w, ws).tobytes()
    return kind, bufs, nout, nscr


def _aa_zp_case(rng, heads, m, k, n, a_zp, a_lo, a_hi):
    """_aa_case's proved bᵀ product with a's zero point and range chosen, so that a - a_zp
    takes each of ef_mve_aa_row_t's forms: int8 (a_zp 0, or a narrow a), uint8 (a softmax's
    output, a_zp -128) or int16."""
    a = rng.integers(a_lo, a_hi + 1, (heads, m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (heads, n, k), dtype=np.int8)
    # outputs mostly inside int8 (b's zero point near 0, as a trained model's): not saturated,
    # so a wrong sum shows
    mult, shift = quantize_multiplier(float(rng.uniform(5, 40)) * 3 / (np.sqrt(k) * 128 * 128))
    b_zp, y_zp = int(rng.integers(-8, 8)), int(rng.integers(-128, 128))
    hs = requant_consts(mult, shift, y_zp, k * 255 * 255)
    assert hs is not None
    p = (_i32(m, k, n, 1) + _i32(*_tab([heads])) + _i32(*_tab([m * k])) + _i32(*_tab([k * n]))
         + _i32(a_zp, b_zp, y_zp, mult, shift, 1, hs[0]))
    return 3, [p, a.tobytes(), b.tobytes()], heads * m * n, 0


def _v6m_cases() -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(SEED + 6)
    return [(f"fc v6m m{m} k{k} n{n} add{int(add)}", _rows_case(rng, m, k, n, add, r, pack_v6m, 8))
            for m, k, n, add, r in [(1, 64, 64, True, 128), (1, 64, 128, False, 128), (1, 128, 64, True, 128),
                                    (1, 64, 10, False, 128), (3, 17, 6, True, 128), (2, 9, 5, False, 128),
                                    (1, 5, 3, True, 128), (1, 256, 7, False, 128), (4, 40, 12, True, 8)]]


def _helium_cases() -> list[tuple[str, tuple]]:
    """ef_qfc_rows_s8's cases, then more of the kernels with a Helium path than
    test_kernels_fast.py's (LayerNorm: ef_mve_ln_*)."""
    rng = np.random.default_rng(SEED + 17)
    c = []
    # vit-tiny-ref's row-loop layers, then k off the 16-lane grid, n off the 4-output grid,
    # k beyond EF_QFC_KMAX (no stack row here), several rows, and 64 < k <= 128 (x's chunks
    # past the 4th read again each block)
    for m, k, n, add in [(1, 64, 64, True), (1, 64, 128, False), (1, 128, 64, True), (1, 64, 10, False),
                         (1, 48, 64, False), (3, 17, 6, True), (2, 9, 5, False), (1, 5, 3, True),
                         (2, 32, 10, True), (1, 300, 7, False), (4, 40, 12, True), (1, 80, 12, True),
                         (2, 100, 8, False), (1, 96, 20, True), (1, 113, 5, False)]:
        c.append((f"fc rows m{m} k{k} n{n} add{int(add)}", _rows_case(rng, m, k, n, add)))
    c.append(("fc rows small", _rows_case(rng, 16, 40, 12, True, r=8)))
    for rows, size, beta in [(4, 64, True), (3, 128, True), (2, 7, True), (2, 20, False), (1, 3, True)]:
        c.append((f"layernorm {rows}x{size} beta{int(beta)}", _ln_case(rng, rows, size, beta)))
    # pooled LayerNorm (ViT's final norm + token mean: ef_mve_ln_acc, then ef_mve_sm_out)
    for rows, size, beta, pool in [(64, 64, True, 64), (6, 32, True, 3), (4, 20, False, 2), (3, 12, True, 1),
                                   (4, 6, True, 2)]:
        c.append((f"layernorm pooled {rows}x{size} beta{int(beta)} pool{pool}",
                  _ln_case(rng, rows, size, beta, pool)))
    # attention's act x act on bᵀ with the proved requantisation (ef_mve_aa_blocks: k % 8 == 0)
    for h, m, k, n in [(4, 1, 16, 64), (4, 1, 64, 16), (2, 3, 8, 4), (1, 2, 128, 9), (2, 1, 24, 7), (1, 1, 32, 3)]:
        c.append((f"aa trans_b proved h{h} m{m} k{k} n{n}", _aa_case(rng, h, m, k, n, trans_b=True, proved=True)))
    # each form of a - a_zp (int8, uint8, int16) at k 16..64 (u held in q0..q3), 128 and off the grid
    for h, m, k, n, azp, lo, hi in [(4, 1, 16, 64, 0, -128, 127), (4, 1, 64, 16, -128, -128, 127),
                                    (2, 2, 16, 7, -128, -128, 127), (1, 2, 24, 9, 0, -128, 127),
                                    (2, 1, 40, 6, -128, -128, 127), (1, 3, 64, 8, 5, -100, 100),
                                    (1, 1, 16, 12, 100, -28, 127), (2, 1, 16, 8, 3, -128, 127),
                                    (1, 2, 33, 5, -7, -128, 127), (1, 1, 128, 20, -128, -128, -1),
                                    (2, 1, 32, 8, -128, -128, 127), (1, 2, 48, 12, 0, -128, 127),
                                    (1, 1, 64, 16, 0, -128, 127), (1, 2, 48, 5, -128, -128, 127),
                                    (1, 1, 32, 6, 20, -108, 100), (3, 1, 16, 8, 0, -128, 127),
                                    (1, 1, 16, 4, 0, -128, 127), (3, 1, 48, 12, -128, -128, 127),
                                    (2, 1, 64, 8, -128, -128, -60), (4, 1, 16, 64, 5, -123, 127),
                                    (4, 1, 16, 64, -7, -128, 120), (2, 1, 16, 8, 9, -128, 127)]:
        c.append((f"aa trans_b zp{azp} a[{lo},{hi}] h{h} m{m} k{k} n{n}",
                  _aa_zp_case(rng, h, m, k, n, azp, lo, hi)))
    for rows, row, pre in [(4, 64, 1.0), (2, 16, 1.0), (3, 20, 0.25), (2, 36, 2.0), (1, 8, 1.0)]:
        c.append((f"softmax {rows}x{row} pre{pre}", _softmax_case(rng, rows, row, pre)))
    for n in (64, 128, 7, 20):
        c.append((f"qbinary add {n}", _qbin_case(rng, 0, n)))
    for n in (128, 17, 1):
        c.append((f"lut {n}", _lut_case(rng, n)))
    c.append(("conv rows patch 4x4/4", _conv_rows_case(rng, 3, 32, 32, 64, 4, 4, 4, 0)))
    c.append(("conv rows 3x3 pad", _conv_rows_case(rng, 4, 7, 6, 6, 3, 3, 1, 1)))
    c.append(("conv rows 1x1 odd", _conv_rows_case(rng, 5, 3, 3, 7, 1, 1, 1, 0)))
    # the window's byte gather (offsets up to 3 * 70 + 3 < 256; padded windows left to the C
    # loop) and a row too wide for 8-bit offsets (3 * 90 + 3)
    c.append(("conv rows 4x4/2 pad w70", _conv_rows_case(rng, 2, 9, 70, 8, 4, 4, 2, 1)))
    c.append(("conv rows 4x4/3 w90", _conv_rows_case(rng, 1, 6, 90, 4, 4, 4, 3, 0)))
    return c


# Each core-specific kernel set: its driver, its cases and the stand-in that runs it.
CORE_KERNELS = {"helium": (ROWS_DRIVER, _helium_cases, "mps3-an547"), "v6m": (V6M_DRIVER, _v6m_cases, "rpi-pico")}


@pytest.mark.parametrize("kernels", sorted(CORE_KERNELS))
def test_core_kernels_on_the_host(tmp_path, kernels):
    driver, make_cases, _ = CORE_KERNELS[kernels]
    cases = make_cases()
    _check(cases, run_host_driver(tmp_path, driver, _stream(cases), werror=True), "host")


@pytest.mark.parametrize("kernels", sorted(CORE_KERNELS))
def test_core_kernels_on_their_stand_in(tmp_path, kernels):
    driver, make_cases, board = CORE_KERNELS[kernels]
    cases = make_cases()
    _check(cases, *run_target_driver(tmp_path, board, driver, _stream(cases), timeout=120, no_warnings=True))


@pytest.mark.parametrize("board_name", ["mps3-an547", "b-u585i-iot02a", "rpi-pico"])
def test_fast_kernels_on_new_cores(tmp_path, board_name):
    cases = _cases()
    _check(cases, *run_target_driver(tmp_path, board_name, DRIVER, _stream(cases), timeout=300, no_warnings=True))


# ef_strided_copy_any's byte lines (ef_mve_copy8 on a Helium core: gathers and scatters of 8
# bytes), per case: params (ef_strided_copy_params), the source, the destination's size;
# the driver writes the destination, filled with 0x5A first.
COPY_DRIVER = r"""
#include <string.h>
#include "ef_kernels.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
static uint8_t x[16384], y[16384];
int kt_run(void)
{
    for (;;) {
        ef_strided_copy_params p;
        uint32_t h[2];   /* source bytes, destination bytes; 0 ends */
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        if (h[0] > sizeof x || h[1] > sizeof y || io_read(&p, sizeof p) || io_read(x, h[0])) return 2;
        memset(y, 0x5A, h[1]);
        if (ef_strided_copy_any(&p, x, y) != EF_OK) return 3;
        if (io_write(y, h[1])) return 2;
    }
}
"""


def _run_driver(tmp_path, where: str, driver: str, stream: bytes) -> bytes:
    """The driver's output stream, built and run on the host or on a stand-in."""
    return (run_host_driver(tmp_path, driver, stream, werror=True) if where == "host"
            else run_target_driver(tmp_path, where, driver, stream, timeout=120, no_warnings=True)[0])


def _mismatch(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """None when got equals want, else where they first differ and how many differ."""
    diff = np.flatnonzero(got != want) if got.size == want.size else np.array([0])
    if not diff.size:
        return None
    return (f"{name}: at {diff[0]}: got {got[diff[0]] if got.size else None}, "
            f"want {want[diff[0]] if want.size else None}; {diff.size} of {want.size} differ")


def _copy_cases():
    """(name, params, x, expected y): rank 1 and 2 byte copies with strides on either side,
    n off the 8-byte grid, contiguous lines of up to 16 bytes and longer, a repeated (stride 0)
    source line, and an overlapping in-place line (left to the scalar loop)."""
    rng = np.random.default_rng(SEED + 55)
    out = []
    for shape, stride, dst_stride in [([64], [1], [64]), ([64], [64], [1]), ([4, 16], [16, 1], [1024, 1]),
                                      ([13], [3], [7]), ([8], [2000], [1]), ([5, 9], [1, 5], [9, 1]),
                                      ([7], [2], [1]), ([100], [1], [81]), ([3, 40], [50, 1], [41, 1]),
                                      ([6, 5], [5, 1], [16, 1]), ([2, 37], [0, 1], [37, 1]), ([33], [1], [1])]:
        src = 1 + sum((s - 1) * st for s, st in zip(shape, stride))
        dst = 1 + sum((s - 1) * st for s, st in zip(shape, dst_stride))
        x = rng.integers(0, 256, src, dtype=np.uint8)
        y = np.full(dst, 0x5A, np.uint8)
        for idx in np.ndindex(*shape):
            y[sum(i * s for i, s in zip(idx, dst_stride))] = x[sum(i * s for i, s in zip(idx, stride))]
        out.append((f"copy {shape} {stride} -> {dst_stride}", shape, stride, dst_stride, x, y))
    return out


def _copy_stream(cases) -> bytes:
    tab = lambda v: _i32(*_tab(v))   # noqa: E731
    s = b""
    for _, shape, stride, dst_stride, x, y in cases:
        p = _i32(len(shape), 1, 0, 0) + tab(shape) + tab(stride) + tab(dst_stride)
        s += _i32(x.size, y.size) + p + x.tobytes()
    return s + _i32(0, 0)


@pytest.mark.parametrize("where", ["host", "mps3-an547"])
def test_strided_byte_copies(tmp_path, where):
    cases = _copy_cases()
    stream = _copy_stream(cases)
    raw = _run_driver(tmp_path, where, COPY_DRIVER, stream)
    pos, bad = 0, []
    for name, *_, y in cases:
        bad.append(_mismatch(name, np.frombuffer(raw[pos:pos + y.size], np.uint8), y))
        pos += y.size
    bad = [b for b in bad if b]
    assert not bad, f"{where} (seed {SEED + 55}): " + " | ".join(bad)


# ef_quantize_f32_s8 per tensor (ef_mve_quant_s8 on a Helium core), per case: n, scale, zp,
# then n floats; the driver writes the n int8 outputs.
QUANT_DRIVER = r"""
#include "ef_kernels.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
static float x[4096];
static int8_t y[4096];
int kt_run(void)
{
    for (;;) {
        int32_t h[2];   /* n (0 ends), zp */
        float s;
        int8_t zp;
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        if (h[0] > 4096 || io_read(&s, 4) || io_read(x, 4u * (uint32_t)h[0])) return 2;
        {
            const ef_quant_params p = {.outer = 1, .axis_len = 1, .inner = h[0]};
            zp = (int8_t)h[1];
            if (ef_quantize_f32_s8(&p, x, &s, &zp, y) != EF_OK) return 3;
        }
        if (io_write(y, (uint32_t)h[0])) return 2;
    }
}
"""


def _quant_cases():
    """Normal inputs, exact ties (x / s = k + 1/2: round half to even), values far outside
    int8 and n off the 4-lane grid."""
    rng = np.random.default_rng(SEED + 56)
    out = []
    for n, s, zp in [(1024, 0.0123, -2), (37, 0.05, 5), (3, 0.5, 0), (64, 1.0, -128), (200, 0.002, 127)]:
        s = np.float32(s)
        x = (rng.normal(0, 1.5, n) * 60 * s).astype(np.float32)
        x[: n // 4] = ((rng.integers(-300, 300, n // 4) + 0.5) * s).astype(np.float32)
        x[-1:] = np.float32(1e30)
        if n > 2:
            x[-2] = np.float32(-3e9)
        v = np.rint(x / s).astype(np.float64) + zp
        out.append((f"quantize n{n} s{s} zp{zp}", n, s, zp, x, np.clip(v, -128, 127).astype(np.int8)))
    return out


@pytest.mark.parametrize("where", ["host", "mps3-an547"])
def test_quantize_per_tensor(tmp_path, where):
    cases = _quant_cases()
    stream = b"".join(_i32(n, zp) + np.float32(s).tobytes() + x.tobytes() for _, n, s, zp, x, _ in cases)
    stream += _i32(0, 0)
    raw = _run_driver(tmp_path, where, QUANT_DRIVER, stream)
    pos, bad = 0, []
    for name, n, *_, want in cases:
        bad.append(_mismatch(name, np.frombuffer(raw[pos:pos + n], np.int8), want))
        pos += n
    bad = [b for b in bad if b]
    assert not bad, f"{where} (seed {SEED + 56}): " + " | ".join(bad)


# The float steps whose Helium forms quantise by a multiplication with a fix-up (ef_mve.c:
# ef_mve_sm_out) against the reference kernels in the same binary, per case: kind (1 softmax),
# the output's size, the params, x, then softmax's 256-float table; the driver writes the fast
# kernel's output, then the reference's.
FLOAT_DRIVER = r"""
#include "ef_kernels.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
static int8_t x[4096], y[4096], yr[4096];
static float t[256], s[1024];
int kt_run(void)
{
    for (;;) {
        int32_t h[2];   /* kind (0 ends), bytes of x and y */
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        if (h[1] > 4096) return 2;
        if (h[0] == 1) {
            ef_qsoftmax_params p;
            if (io_read(&p, sizeof p) || p.row > 1024 || io_read(x, (uint32_t)h[1]) || io_read(t, sizeof t)) return 2;
            if (ef_qsoftmax_s8(&p, x, t, y, s) != EF_OK || ef_qsoftmax_s8_ref(&p, x, t, yr, s) != EF_OK) return 3;
        } else {
            return 2;
        }
        if (io_write(y, (uint32_t)h[1]) || io_write(yr, (uint32_t)h[1])) return 2;
    }
}
"""


def _near_tie_scale(rng, v: np.float32) -> np.float32:
    """A scale ys with fl(v / ys) at or next to m + 1/2 for a random m < 128 (an exact tie
    when the division lands on it, as it often does)."""
    m = int(rng.integers(0, 128))
    return np.float32(v / np.float32(m + 0.5))


def _softmax_float_cases():
    """Single rows (y_scale per row): random rows with the export's table at y_scale 1/255,
    rows whose y_scale puts one output at or next to a rounding tie (a random element, its
    e / sum in float32 as the kernel computes it), exact ties by construction (sums that are
    powers of two, y_scale a power of two: e / sum / ys = k + 1/2 exactly), and large outputs
    that saturate."""
    rng = np.random.default_rng(SEED + 57)
    out = []
    for i in range(160):
        row = [64, 16, 36, 64, 8][i % 5]
        xs = np.float32(rng.uniform(0.005, 0.1))
        table = softmax_exp_table(float(xs), 1.0).astype(np.float32)
        x = rng.integers(-128, 128, row, dtype=np.int8)
        top = int(x.max())
        e = table[top - x.astype(np.int32)]
        ssum = np.float32(0)
        for v in e:
            ssum = np.float32(ssum + v)
        if i < 20:
            ys = np.float32(1 / 255)
        elif i < 140:
            ys = _near_tie_scale(rng, np.float32(e[rng.integers(row)] / ssum))
        else:
            ys = np.float32(rng.uniform(1e-4, 1e-3))   # outputs far beyond int8
        zp = int(rng.integers(-128, 128))
        out.append((f"softmax row {row} #{i}", row, xs, ys, zp, x, table))
    # exact ties: a table of 1, 1/2, 1/4, 3/4 (0 past them) and rows of 8 summing to 4 or 2
    table = np.zeros(256, np.float32)
    table[:4] = [1.0, 0.5, 0.25, 0.75]
    for i, d in enumerate([[0, 1, 1, 2, 2, 3, 3, 255], [0, 3, 2, 255, 255, 255, 255, 255],
                           [0, 0, 0, 3, 2, 255, 255, 255]]):
        x = (127 - np.array(d)).astype(np.int8)
        for p in (-6, -5, -4, -3, -2):
            out.append((f"softmax exact ties {i} ys 2^{p}", 8, np.float32(0.05), np.float32(2.0 ** p), -3 + i,
                        x, table))
    return out


@pytest.mark.parametrize("where", ["host", "mps3-an547"])
def test_float_steps_near_ties(tmp_path, where):
    """The fast kernels equal the reference kernels byte for byte on rows built to land on
    and next to rounding ties (the multiplication's fix-up path) and on ordinary rows."""
    cases = _softmax_float_cases()
    stream = b""
    for _, row, xs, ys, zp, x, table in cases:
        stream += _i32(1, row) + _i32(1, row) + _f32(xs, 1.0, ys) + _i32(0, zp) + x.tobytes() + table.tobytes()
    stream += _i32(0, 0)
    raw = _run_driver(tmp_path, where, FLOAT_DRIVER, stream)
    pos, bad = 0, []
    for name, row, *_ in cases:
        bad.append(_mismatch(name, np.frombuffer(raw[pos:pos + row], np.int8),
                             np.frombuffer(raw[pos + row:pos + 2 * row], np.int8)))
        pos += 2 * row
    bad = [b for b in bad if b]
    assert pos == len(raw), f"{where}: {len(raw)} bytes back, {pos} expected"
    assert not bad, f"{where} (seed {SEED + 57}): " + " | ".join(bad[:5])
