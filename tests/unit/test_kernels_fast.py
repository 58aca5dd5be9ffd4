"""Fast int8 kernels (ef_qfc.c, ef_qint8_fast.c, ef_data.c copies) equal the reference
kernels bit for bit,
on the host (portable C) and compiled for Cortex-M7 / M4 under QEMU (DSP path).

One C driver reads cases (kind, buffers), runs the reference and the fast kernel on the same
inputs and writes both outputs; weights go through the emitter's own packer (pack_fc,
pack_conv). Provenance: numpy default_rng(SEED), generator `_cases` below."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.kernel_harness import i32, run_host_driver, run_target_driver

from edgeformer.export.emit.ops_qint8 import softmax_exp_table
from edgeformer.export.emit.ops_qlinear import add_terms, pack_conv, pack_fc
from edgeformer.export.emit.qepilogue import acc_bounds, pack_epilogue, requant_consts
from edgeformer.export.passes.fold_qdq import quantize_multiplier

SEED = 20240611

DRIVER = r"""
#include <string.h>
#include "ef_kernels.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
static uint8_t mem[96 * 1024] __attribute__((aligned(8)));
enum { FC = 1, CONV, AA, SOFTMAX, LAYERNORM, QBIN, LUT, FC_ADD, COPY, FC_EPI };
/* The definition of a strided copy: one element at a time, offsets from the indices. */
static void copy_ref(const ef_strided_copy_params *p, const uint8_t *x, uint8_t *y)
{
    int32_t idx[EF_MAX_DIMS] = {0}, n = 1, d, i, e;
    for (d = 0; d < p->rank; ++d) n *= p->shape[d];
    for (i = 0; i < n; ++i) {
        int32_t so = p->offset, dof = p->dst_offset;
        for (d = 0; d < p->rank; ++d) so += idx[d] * p->stride[d], dof += idx[d] * p->dst_stride[d];
        for (e = 0; e < p->elem_size; ++e) y[dof * p->elem_size + e] = x[so * p->elem_size + e];
        for (d = p->rank - 1; d >= 0 && ++idx[d] == p->shape[d]; --d) idx[d] = 0;
    }
}
int kt_run(void)
{
    for (;;) {
        uint32_t h[4], i, len, used = 0;  /* kind, buffers, out bytes, scratch bytes */
        uint8_t *b[12], *ref, *fast;
        float *scr;
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        for (i = 0; i < h[1]; ++i) {
            if (io_read(&len, 4)) return 2;
            b[i] = len ? mem + used : NULL;
            if (len && io_read(mem + used, len)) return 2;
            used += (len + 7u) & ~7u;
        }
        ref = mem + used; used += (h[2] + 7u) & ~7u;
        fast = mem + used; used += (h[2] + 7u) & ~7u;
        scr = (float *)(mem + used);
        if (used + h[3] > sizeof mem) return 3;
        memset(ref, 0x5A, h[2]); memset(fast, 0xA5, h[2]);
        switch (h[0]) {
        case FC:
            ef_qmatmul_s8((void *)b[0], (void *)b[2], (void *)b[3], (void *)b[4], (void *)b[5], (void *)b[6], (void *)ref);
            ef_qfc_s8((void *)b[1], (void *)b[2], (void *)b[7], (void *)b[8], (void *)fast);
            break;
        case CONV:
            ef_qconv2d_s8((void *)b[0], (void *)b[2], (void *)b[3], (void *)b[4], (void *)b[5], (void *)b[6], (void *)ref);
            ef_qconv2d_fc_s8((void *)b[1], (void *)b[2], (void *)b[7], (void *)b[8], (void *)fast);
            break;
        case AA:
            ef_qmatmul_aa_s8_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)ref);
            ef_qmatmul_aa_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)fast);
            break;
        case SOFTMAX:
            ef_qsoftmax_s8_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)ref, scr);
            ef_qsoftmax_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)fast, scr);
            break;
        case LAYERNORM:
            ef_qlayernorm_s8_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)b[3], (void *)ref, scr);
            ef_qlayernorm_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)b[3], (void *)fast, scr);
            break;
        case QBIN:
            ef_qbinary_s8_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)ref);
            ef_qbinary_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)fast);
            break;
        case LUT:
            ef_lut_s8_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)ref);
            ef_lut_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)fast);
            break;
        case FC_ADD: /* the matmul, then the QAdd of its int8 output and the constant */
            ef_qmatmul_s8((void *)b[0], (void *)b[2], (void *)b[3], (void *)b[4], (void *)b[5], (void *)b[6], (void *)scr);
            ef_qbinary_s8_ref((void *)b[9], (void *)b[10], (void *)scr, (void *)ref);
            ef_qfc_add_s8((void *)b[1], (void *)b[2], (void *)b[7], (void *)b[8], (void *)b[11], (void *)fast);
            break;
        case FC_EPI: /* the matmul (then the QAdd when b[9] is given) vs the integer epilogue */
            if (b[9]) {
                ef_qmatmul_s8((void *)b[0], (void *)b[2], (void *)b[3], (void *)b[4], (void *)b[5], (void *)b[6], (void *)scr);
                ef_qbinary_s8_ref((void *)b[9], (void *)b[10], (void *)scr, (void *)ref);
            } else {
                ef_qmatmul_s8((void *)b[0], (void *)b[2], (void *)b[3], (void *)b[4], (void *)b[5], (void *)b[6], (void *)ref);
            }
            ef_qfc_epi_s8((void *)b[1], (void *)b[2], (void *)b[8], (void *)fast);
            break;
        case COPY: /* b[2]: 0 strided, 1 ef_copy_any of the whole output */
            memset(fast, 0x5A, h[2]);
            copy_ref((void *)b[0], b[1], ref);
            if (b[2][0]) ef_copy_any((int32_t)h[2], b[1], fast);
            else ef_strided_copy_any((void *)b[0], b[1], fast);
            break;
        default:
            return 4;
        }
        if (io_write(ref, h[2]) || io_write(fast, h[2])) return 2;
    }
}
"""



I32 = np.int32


_i32 = i32


def _f32(*v) -> bytes:
    return struct.pack(f"<{len(v)}f", *[float(x) for x in v])


def _tab(v, n=8) -> list[int]:
    return list(v) + [0] * (n - len(v))


def _requant(rng, n, ties=False):
    if ties:  # acc * 2^30 / 2^(33..35): one accumulator in 8..32 sits exactly half-way
        return np.full(n, 1 << 30, I32), rng.integers(-4, -1, n).astype(I32)
    mq = [quantize_multiplier(float(s)) for s in rng.uniform(1e-4, 0.9, n)]
    return np.array([m for m, _ in mq], I32), np.array([s for _, s in mq], I32)


def _fc_case(rng, m, k, n, ties=False, bias=True):
    r = 4 if ties else 128  # ties need small accumulators, else the output saturates
    x = rng.integers(-r, r, (m, k), dtype=np.int8)
    w = rng.integers(-r, r, (n, k), dtype=np.int8)
    b = rng.integers(-r * 150, r * 150, n).astype(I32) if bias else None
    mult, shift = _requant(rng, n, ties)
    x_zp, y_zp = int(rng.integers(-r, r)), int(rng.integers(-20, 20))
    words, chan = pack_fc(w, b, x_zp, mult, shift)
    bufs = [_i32(m, k, n, x_zp, y_zp, -128, 127), _i32(m, k, n, -(-k // 4) * 4, y_zp, -128, 127),
            x.tobytes(), w.tobytes(), b.tobytes() if bias else b"", mult.tobytes(), shift.tobytes(),
            words.tobytes(), chan.tobytes()]
    return 1, bufs, m * n, 0


def _fc_add_case(rng, m, k, n):
    """ef_qfc_add_s8 (the bias Add onnxruntime leaves after a 3-D MatMul, fuse_bias_add) vs
    ef_qmatmul_s8 then ef_qbinary_s8_ref(c broadcast over the rows, matmul output)."""
    _, bufs, _, _ = _fc_case(rng, m, k, n)
    y_zp = struct.unpack("<7i", bufs[0])[4]
    c = rng.integers(-128, 128, n, dtype=np.int8)
    m_scale, c_scale, y_scale = (float(np.float32(v)) for v in rng.uniform(2e-4, 0.03, 3))
    c_zp, out_zp = (int(v) for v in rng.integers(-10, 10, 2))
    qbin = (_i32(0, 2) + _i32(*_tab([m, n])) + _i32(*_tab([0, 1])) + _i32(*_tab([n, 1]))
            + _f32(c_scale, m_scale, y_scale) + _i32(c_zp, y_zp, out_zp))
    fa = bufs[1] + _f32(m_scale, y_scale) + _i32(y_zp, out_zp)
    bufs = [bufs[0], fa, *bufs[2:], qbin, c.tobytes(), add_terms(c, c_zp, c_scale).tobytes()]
    return 8, bufs, m * n, m * n


def _fc_epi_case(rng, m, k, n, add=True, r=128):
    """ef_qfc_epi_s8 (integer epilogue proved offline, qepilogue.py) vs ef_qmatmul_s8 and,
    with add, ef_qbinary_s8_ref of the constant and its output (as _fc_add_case)."""
    x = rng.integers(-r, r, (m, k), dtype=np.int8)
    w = rng.integers(-r, r, (n, k), dtype=np.int8)
    b = rng.integers(-r * 150, r * 150, n).astype(I32)
    # scales that keep most outputs inside int8 (acc spreads ~ sqrt(k) r^2 / 3), all below
    # 1/4 (s >= 1) as in every fc of a trained model
    unit = 3.0 / (np.sqrt(k) * r * r)
    mq = [quantize_multiplier(float(v)) for v in np.minimum(rng.uniform(5 * unit, 150 * unit, n), 0.2)]
    mult, shift = np.array([q[0] for q in mq], I32), np.array([q[1] for q in mq], I32)
    x_zp, y_zp = int(rng.integers(-r, r)), int(rng.integers(-20, 20))
    words, chan = pack_fc(w, b, x_zp, mult, shift)
    bufs = [_i32(m, k, n, x_zp, y_zp, -128, 127), _i32(m, k, n, -(-k // 4) * 4, y_zp, -128, 127),
            x.tobytes(), w.tobytes(), b.tobytes(), mult.tobytes(), shift.tobytes(), words.tobytes()]
    spec, tail = None, [b"", b""]
    if add:
        c = rng.integers(-128, 128, n, dtype=np.int8)
        m_scale, c_scale, y_scale = (float(np.float32(v)) for v in rng.uniform(2e-4, 0.03, 3))
        c_zp, out_zp = (int(v) for v in rng.integers(-10, 10, 2))
        spec = dict(addc=add_terms(c, c_zp, c_scale), m_scale=m_scale, y_scale=y_scale,
                    m_zp=y_zp, y_zp=out_zp)
        tail = [_i32(0, 2) + _i32(*_tab([m, n])) + _i32(*_tab([0, 1])) + _i32(*_tab([n, 1]))
                + _f32(c_scale, m_scale, y_scale) + _i32(c_zp, y_zp, out_zp), c.tobytes()]
    ws = pack_epilogue(words, chan, n, y_zp, acc_bounds(w, b, x_zp), spec)
    assert ws is not None, "the generator's channels should all be provable"
    return 10, bufs + [ws.tobytes()] + tail, m * n, m * n


def _copy_case(rng, shape, stride, dst_stride, es, offset=0, dst_offset=0, whole=False):
    n_src = offset + sum((d - 1) * s for d, s in zip(shape, stride)) + 1
    n_dst = dst_offset + sum((d - 1) * s for d, s in zip(shape, dst_stride)) + 1
    x = rng.integers(0, 256, n_src * es, dtype=np.uint8)
    r = len(shape)
    p = _i32(r, es, offset, dst_offset) + _i32(*_tab(shape)) + _i32(*_tab(stride)) \
        + _i32(*_tab(dst_stride))
    return 9, [p, x.tobytes(), bytes([1 if whole else 0])], n_dst * es, 0


def _conv_case(rng, c_in, h, wd, c_out, kh, kw, stride, pad, groups):
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    x = rng.integers(-128, 128, (1, c_in, h, wd), dtype=np.int8)
    w = rng.integers(-128, 128, (c_out, c_in // groups, kh, kw), dtype=np.int8)
    b = rng.integers(-5000, 5000, c_out).astype(I32)
    mult, shift = _requant(rng, c_out)
    x_zp, y_zp = int(rng.integers(-128, 128)), int(rng.integers(-20, 20))
    words, chan = pack_conv(w, groups, b, x_zp, mult, shift)
    geo = _i32(1, c_in, h, wd, c_out, kh, kw, oh, ow, stride, stride, pad, pad, 1, 1, groups)
    k = c_in // groups * kh * kw
    bufs = [geo + _i32(x_zp, y_zp, -128, 127), geo + _i32(-(-k // 4) * 4, x_zp, y_zp, -128, 127),
            x.tobytes(), w.tobytes(), b.tobytes(), mult.tobytes(), shift.tobytes(),
            words.tobytes(), chan.tobytes()]
    return 2, bufs, c_out * oh * ow, 0


def _aa_case(rng, heads, m, k, n, ties=False, trans_b=False, proved=False):
    """trans_b: b holds bᵀ (heads, n, k) (passes/aa_trans_b.py); proved: h of the SMMLA
    requantisation from qepilogue.requant_consts (a realistic scale, no tie reachable)."""
    r = 6 if ties else 128
    a = rng.integers(-r, r, (heads, m, k), dtype=np.int8)
    b = rng.integers(-r, r, (heads, n, k) if trans_b else (heads, k, n), dtype=np.int8)
    (mult,), (shift,) = _requant(rng, 1, ties)
    if proved:   # outputs mostly inside int8: acc spreads ~ sqrt(k) * 128^2 / 3
        mult, shift = quantize_multiplier(float(rng.uniform(5, 150)) * 3 / (np.sqrt(k) * r * r))
    zps = [int(v) for v in rng.integers(-r, r, 3)]
    hs = requant_consts(mult, shift, zps[2], k * 255 * 255) if proved else None
    assert hs is not None or not proved
    p = (_i32(m, k, n, 1) + _i32(*_tab([heads])) + _i32(*_tab([m * k])) + _i32(*_tab([k * n]))
         + _i32(*zps, mult, shift, int(trans_b), hs[0] if hs else 0))
    return 3, [p, a.tobytes(), b.tobytes()], heads * m * n, 0


def _softmax_case(rng, rows, row, pre_scale=1.0):
    x = rng.integers(-128, 128, (rows, row), dtype=np.int8)
    xs = rng.uniform(0.005, 0.1)
    p = _i32(rows, row) + _f32(xs, pre_scale, 1 / 255) + _i32(rng.integers(-10, 10), -128)
    return 4, [p, x.tobytes(), softmax_exp_table(xs, pre_scale).tobytes()], rows * row, 4 * row


def _ln_case(rng, rows, size, beta=True, pool=0):
    x = rng.integers(-128, 128, (rows, size), dtype=np.int8)
    g = rng.normal(1, 0.3, size).astype(np.float32)
    bt = rng.normal(0, 0.3, size).astype(np.float32)
    p = _i32(rows, size, pool) + _f32(1e-5, rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)) \
        + _i32(rng.integers(-10, 10), rng.integers(-10, 10))
    out = rows // pool * size if pool else rows * size
    return 5, [p, x.tobytes(), g.tobytes(), bt.tobytes() if beta else b""], out, 8 * size


def _qbin_case(rng, op, n, b_stride=1, rank2=False):
    a = rng.integers(-128, 128, n, dtype=np.int8)
    b = rng.integers(-128, 128, n, dtype=np.int8)
    shape, sa, sb = ([n // 4, 4], [4, 1], [0, 1]) if rank2 else ([n], [1], [b_stride])
    sc = rng.uniform(1e-3, 0.05, 3)
    if op == 2:
        sc[2] = sc[0] * sc[1] * 40
    p = (_i32(op, len(shape)) + _i32(*_tab(shape)) + _i32(*_tab(sa)) + _i32(*_tab(sb))
         + _f32(*sc) + _i32(*rng.integers(-10, 10, 3)))
    return 6, [p, a.tobytes(), b.tobytes()], n, 0


def _lut_case(rng, n):
    x = rng.integers(-128, 128, n, dtype=np.int8)
    t = rng.integers(-128, 128, 256, dtype=np.int8)
    return 7, [_i32(n), x.tobytes(), t.tobytes()], n, 0


def _cases() -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(SEED)
    c = []
    # the row-loop GEMV shapes of vit-tiny-ref, then odd ones
    for m, k, n in [(1, 64, 192), (1, 64, 64), (1, 64, 128), (1, 128, 64), (1, 64, 10),
                    (3, 17, 5), (2, 7, 9), (1, 1, 1), (4, 256, 6), (1, 130, 3)]:
        c.append((f"fc m{m} k{k} n{n}", _fc_case(rng, m, k, n)))
    c.append(("fc ties", _fc_case(rng, 4, 64, 64, ties=True)))
    c.append(("fc no bias", _fc_case(rng, 1, 20, 8, bias=False)))
    for m, k, n in [(1, 64, 64), (1, 64, 128), (1, 128, 64), (3, 17, 6), (2, 9, 5)]:
        c.append((f"fc+add m{m} k{k} n{n}", _fc_add_case(rng, m, k, n)))
    for m, k, n, add in [(1, 64, 64, True), (1, 64, 128, True), (1, 128, 64, True),
                         (1, 64, 192, False), (3, 17, 6, True), (2, 9, 5, False), (2, 32, 10, True),
                         (1, 48, 8, True)]:
        c.append((f"fc epi m{m} k{k} n{n} add{int(add)}", _fc_epi_case(rng, m, k, n, add)))
    c.append(("fc epi small", _fc_epi_case(rng, 16, 40, 12, True, r=8)))
    # the row-loop copies of vit-tiny-ref (identity, column scatter, head split), then others
    for args in [([64], [1], [1], 1), ([64], [1], [64], 1), ([64], [64], [1], 1),
                 ([4, 16], [16, 1], [1024, 1], 1), ([3, 5, 7], [1, 21, 3], [35, 7, 1], 1),
                 ([5, 6], [1, 5], [6, 1], 4), ([7, 3], [3, 1], [1, 7], 2), ([33], [1], [1], 4),
                 ([2, 3], [0, 1], [3, 1], 1)]:
        c.append((f"copy {args[0]} {args[1]}->{args[2]} es{args[3]}", _copy_case(rng, *args)))
    c.append(("copy offsets", _copy_case(rng, [3, 9], [20, 1], [9, 1], 1, 5, 2)))
    c.append(("copy whole 77", _copy_case(rng, [77], [1], [1], 1, whole=True)))
    c.append(("conv patch 4x4/4", _conv_case(rng, 3, 32, 32, 64, 4, 4, 4, 0, 1)))
    c.append(("conv 3x3 pad groups", _conv_case(rng, 4, 7, 6, 6, 3, 3, 1, 1, 2)))
    c.append(("conv 1x1 odd", _conv_case(rng, 5, 3, 3, 7, 1, 1, 1, 0, 1)))
    for h, m, k, n in [(4, 1, 16, 64), (4, 1, 64, 16), (2, 3, 7, 6), (1, 2, 5, 3), (1, 1, 1, 4),
                       (2, 2, 10, 8)]:
        c.append((f"aa h{h} m{m} k{k} n{n}", _aa_case(rng, h, m, k, n)))
    c.append(("aa ties", _aa_case(rng, 4, 4, 16, 16, ties=True)))
    # k = 196 / 49: attention x V over 28x28 images in 2x2 / 4x4 patches (ef_aa_pair, any k >= 8)
    for h, m, k, n in [(4, 1, 16, 64), (4, 1, 64, 16), (2, 3, 8, 5), (2, 2, 24, 7), (2, 3, 7, 6),
                       (1, 2, 5, 3), (1, 1, 12, 4), (2, 2, 10, 9), (1, 2, 196, 5), (2, 1, 49, 6),
                       (1, 1, 36, 3), (2, 3, 20, 4)]:
        c.append((f"aa trans_b h{h} m{m} k{k} n{n}", _aa_case(rng, h, m, k, n, trans_b=True)))
        c.append((f"aa trans_b proved h{h} m{m} k{k} n{n}",
                  _aa_case(rng, h, m, k, n, trans_b=True, proved=True)))
    c.append(("aa proved", _aa_case(rng, 2, 2, 16, 12, proved=True)))
    c.append(("aa trans_b ties", _aa_case(rng, 4, 4, 16, 16, ties=True, trans_b=True)))
    c.append(("softmax 4x64", _softmax_case(rng, 4, 64)))
    c.append(("softmax prescale", _softmax_case(rng, 3, 37, 0.25)))
    c.append(("softmax negative scale", _softmax_case(rng, 3, 37, -0.5)))
    c.append(("softmax row 1", _softmax_case(rng, 2, 1)))
    c.append(("layernorm 2x64", _ln_case(rng, 2, 64)))
    c.append(("layernorm no beta", _ln_case(rng, 3, 33, beta=False)))
    c.append(("layernorm pooled", _ln_case(rng, 4, 16, pool=2)))
    for op in range(3):
        c.append((f"qbinary op{op}", _qbin_case(rng, op, 128)))
    c.append(("qbinary add odd", _qbin_case(rng, 0, 67)))
    c.append(("qbinary scalar b", _qbin_case(rng, 0, 40, b_stride=0)))
    c.append(("qbinary rank 2", _qbin_case(rng, 0, 32, rank2=True)))
    c.append(("lut", _lut_case(rng, 203)))
    return c


def _stream(cases) -> bytes:
    out = bytearray()
    for _, (kind, bufs, nout, nscr) in cases:
        out += struct.pack("<4I", kind, len(bufs), nout, nscr)
        for b in bufs:
            out += struct.pack("<I", len(b)) + b
    return bytes(out + struct.pack("<4I", 0, 0, 0, 0))


def _check(cases, raw: bytes, where: str) -> None:
    bad, pos = [], 0
    for name, (_, _, nout, _) in cases:
        ref = np.frombuffer(raw[pos:pos + nout], np.int8)
        got = np.frombuffer(raw[pos + nout:pos + 2 * nout], np.int8)
        pos += 2 * nout
        diff = np.flatnonzero(ref != got)
        if ref.size != nout or got.size != nout:
            bad.append(f"{name}: short output ({len(raw)} bytes in all)")
        elif diff.size:
            i = diff[0]
            bad.append(f"{name}: at {i}: got {got[i]}, want {ref[i]}; {diff.size} of {nout} differ")
    assert not bad, f"{where} (seed {SEED}): " + " | ".join(bad)


def test_fast_kernels_host(tmp_path):
    cases = _cases()
    _check(cases, run_host_driver(tmp_path, DRIVER, _stream(cases), werror=False), "host")


@pytest.mark.parametrize("board_name", ["stm32f746g-disco", "nucleo-f411re"])
def test_fast_kernels_qemu(tmp_path, board_name):
    cases = _cases()
    _check(cases, *run_target_driver(tmp_path, board_name, DRIVER, _stream(cases), timeout=60))
