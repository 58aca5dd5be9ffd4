"""Fast float32 kernels (ef_f32_fast.c, the dense paths of ef_elementwise.c / ef_norm.c)
against reference kernels, on the host (portable C) and compiled for Cortex-M7 / M4 under
QEMU (VFMA/VLDM asm path).

Exact cases: the matmuls equal "bias, then fmaf over k in order" bit for bit; the dense
binary, LayerNorm row and one-dim reduce paths equal the general loops bit for bit. Bounded cases: softmax,
erf and GELU against the libm-based reference kernels, and exp/erf themselves against float64
numpy over dense grids, within the bounds stated in ef_f32_fast.h. Weights go through the
emitter's own packers (pack_f32_fc, pack_f32_conv). Provenance: numpy default_rng(SEED),
generator `_cases` below."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from tests.kernel_harness import i32, run_host_driver, run_target_driver

from edgeformer.export.emit.ops_conv import pack_f32_conv
from edgeformer.export.emit.ops_linear import pack_f32_fc

SEED = 20261203
EXP_REL, ERF_ABS = 1.5e-7, 3.5e-7   # the bounds ef_f32_fast.h states (measured 9.1e-8, 2.9e-7)

DRIVER = r"""
#include <math.h>
#include <string.h>
#include "ef_kernels.h"
#include "ef_f32_fast.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
static uint8_t mem[96 * 1024] __attribute__((aligned(8)));
enum { FC = 1, MATMUL, CONV, BINARY, LAYERNORM, SOFTMAX, UNARY, EXPERF, REDUCE };
/* The definition the fast matmuls keep: bias (or 0), then fmaf over k in order. */
static void fc_ref(int32_t m, int32_t k, int32_t n, const float *x, const float *w,
                   const float *bias, float *y)
{
    int32_t i, j, q;
    for (i = 0; i < m; ++i)
        for (j = 0; j < n; ++j) {
            float acc = bias ? bias[j] : 0.0f;
            for (q = 0; q < k; ++q) acc = fmaf(x[i * k + q], w[q * n + j], acc);
            y[i * n + j] = acc;
        }
}
static void conv_ref(const ef_conv2d_params *p, const float *x, const float *w, const float *b,
                     float *y)
{
    int32_t oc, oy, ox, ic, ky, kx;
    for (oc = 0; oc < p->c_out; ++oc)
        for (oy = 0; oy < p->oh; ++oy)
            for (ox = 0; ox < p->ow; ++ox) {
                float acc = b ? b[oc] : 0.0f;
                for (ic = 0; ic < p->c_in; ++ic)
                    for (ky = 0; ky < p->kh; ++ky) {
                        int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                        if (iy < 0 || iy >= p->h) continue;
                        for (kx = 0; kx < p->kw; ++kx) {
                            int32_t ix = ox * p->stride_w - p->pad_left + kx;
                            float v = (ix < 0 || ix >= p->w) ? 0.0f : x[(ic * p->h + iy) * p->w + ix];
                            acc = fmaf(v, w[((oc * p->c_in + ic) * p->kh + ky) * p->kw + kx], acc);
                        }
                    }
                y[(oc * p->oh + oy) * p->ow + ox] = acc;
            }
}
/* ef_layernorm_f32's general loop (scale/bias read through the period). */
static void ln_ref(const ef_layernorm_params *p, const float *x, const float *g, const float *b,
                   float *y)
{
    int32_t o, i, D = p->size;
    for (o = 0; o < p->outer; ++o) {
        const float *xr = x + o * D;
        float mean = 0.0f, var = 0.0f, inv;
        for (i = 0; i < D; ++i) mean += xr[i];
        mean /= (float)D;
        for (i = 0; i < D; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= (float)D;
        inv = 1.0f / sqrtf(var + p->epsilon);
        for (i = 0; i < D; ++i) {
            float v = (xr[i] - mean) * inv * g[(o * D + i) % p->scale_period];
            if (b) v += b[(o * D + i) % p->bias_period];
            y[o * D + i] = v;
        }
    }
}
int kt_run(void)
{
    for (;;) {
        uint32_t h[3], i, len, used = 0;  /* kind, buffers, out floats */
        uint8_t *b[8];
        float *ref, *fast;
        int st = 0;
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        for (i = 0; i < h[1]; ++i) {
            if (io_read(&len, 4)) return 2;
            b[i] = len ? mem + used : NULL;
            if (len && io_read(mem + used, len)) return 2;
            used += (len + 7u) & ~7u;
        }
        ref = (float *)(mem + used); used += (h[2] * 4 + 7u) & ~7u;
        fast = (float *)(mem + used); used += (h[2] * 4 + 7u) & ~7u;
        if (used > sizeof mem) return 3;
        memset(ref, 0x5A, h[2] * 4); memset(fast, 0xA5, h[2] * 4);
        switch (h[0]) {
        case FC: { /* b0: m k n; b1 x; b2 w (k x n); b3 packed; b4 bias */
            const int32_t *d = (const int32_t *)b[0];
            ef_fc_f32_params p = {d[0], d[1], d[2]};
            fc_ref(d[0], d[1], d[2], (void *)b[1], (void *)b[2], (void *)b[4], ref);
            st = ef_fc_f32(&p, (void *)b[1], (void *)b[3], (void *)b[4], fast);
            break;
        }
        case MATMUL: { /* b0: params; b1 a; b2 b; batches walk dense a and b */
            const ef_matmul_params *p = (const void *)b[0];
            int32_t nb = 1, bi;
            for (bi = 0; bi < p->batch_rank; ++bi) nb *= p->batch_shape[bi];
            for (bi = 0; bi < nb; ++bi)
                fc_ref(p->m, p->k, p->n, (const float *)(void *)b[1] + bi * p->m * p->k,
                       (const float *)(void *)b[2] + bi * p->k * p->n, NULL, ref + bi * p->m * p->n);
            st = ef_matmul_f32_fast(p, (void *)b[1], (void *)b[2], fast);
            break;
        }
        case CONV: /* b0: params; b1 x; b2 w; b3 packed; b4 bias */
            conv_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)b[4], ref);
            st = ef_conv2d_f32_fast((void *)b[0], (void *)b[1], (void *)b[3], (void *)b[4], fast);
            break;
        case BINARY: { /* b0: dense params; b1 a; b2 b; the reference runs as rank 2 */
            ef_binary_params p = *(const ef_binary_params *)(void *)b[0], q = p;
            q.rank = 2; q.shape[0] = 1; q.shape[1] = p.shape[0];
            q.a_stride[0] = q.b_stride[0] = 0; q.a_stride[1] = p.a_stride[0]; q.b_stride[1] = p.b_stride[0];
            st = ef_binary_f32(&q, (void *)b[1], (void *)b[2], ref);
            st |= ef_binary_f32(&p, (void *)b[1], (void *)b[2], fast);
            break;
        }
        case LAYERNORM: /* b0: params; b1 x; b2 gamma; b3 beta */
            ln_ref((void *)b[0], (void *)b[1], (void *)b[2], (void *)b[3], ref);
            st = ef_layernorm_f32((void *)b[0], (void *)b[1], (void *)b[2], (void *)b[3], fast, NULL, NULL);
            break;
        case SOFTMAX:
            st = ef_softmax_f32((void *)b[0], (void *)b[1], ref);
            st |= ef_softmax_f32_fast((void *)b[0], (void *)b[1], fast);
            break;
        case UNARY:
            st = ef_unary_f32((void *)b[0], (void *)b[1], ref);
            st |= ef_unary_f32_fast((void *)b[0], (void *)b[1], fast);
            break;
        case EXPERF: { /* b0: n; b1: x <= 0 for exp; ref <- exp, fast <- erf */
            int32_t n = *(const int32_t *)(void *)b[0], j;
            const float *x = (const void *)b[1];
            for (j = 0; j < n; ++j) { ref[j] = ef_exp_neg(x[j]); fast[j] = ef_erf_fast(x[j]); }
            break;
        }
        case REDUCE: { /* b0: rank-1 params; b1 x; the reference runs the same as rank 2 */
            ef_reduce_params p = *(const ef_reduce_params *)(void *)b[0], q = p;
            q.rank = 2; q.out_shape[1] = 1; q.out_stride[1] = 0;
            q.red_shape[1] = p.red_shape[0]; q.red_stride[1] = p.red_stride[0];
            q.red_shape[0] = 1; q.red_stride[0] = 0;
            st = ef_reduce_f32(&q, (void *)b[1], ref);
            st |= ef_reduce_f32(&p, (void *)b[1], fast);
            break;
        }
        default:
            return 4;
        }
        if (st) return 5;
        if (io_write(ref, h[2] * 4) || io_write(fast, h[2] * 4)) return 2;
    }
}
"""



F32 = np.float32


_i32 = i32


def _tab(v, n=8) -> list[int]:
    return list(v) + [0] * (n - len(v))


def _f(a) -> bytes:
    return np.ascontiguousarray(a, F32).tobytes()


# case: (kind, buffers, n_out, check) with check "exact", ("rel", tol) or ("abs", tol)
def _fc(rng, m, k, n, bias=True):
    x, w = rng.standard_normal((m, k)).astype(F32), rng.standard_normal((k, n)).astype(F32)
    b = rng.standard_normal(n).astype(F32) if bias else None
    return 1, [_i32(m, k, n), _f(x), _f(w), _f(pack_f32_fc(w)), _f(b) if bias else b""], m * n, "exact"


def _matmul(rng, heads, m, k, n):
    a, b = rng.standard_normal((heads, m, k)).astype(F32), rng.standard_normal((heads, k, n)).astype(F32)
    p = _i32(m, k, n, 1) + _i32(*_tab([heads])) + _i32(*_tab([m * k])) + _i32(*_tab([k * n]))
    return 2, [p, _f(a), _f(b)], heads * m * n, "exact"


def _conv(rng, c_in, h, wd, c_out, kh, kw, stride, pad, bias=True):
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    x = rng.standard_normal((c_in, h, wd)).astype(F32)
    w = rng.standard_normal((c_out, c_in, kh, kw)).astype(F32)
    b = rng.standard_normal(c_out).astype(F32) if bias else None
    p = _i32(1, c_in, h, wd, c_out, kh, kw, oh, ow, stride, stride, pad, pad, 1, 1, 1)
    return 3, [p, _f(x), _f(w), _f(pack_f32_conv(w)), _f(b) if bias else b""], c_out * oh * ow, "exact"


def _binary(rng, op, n, sa, sb):
    a = rng.standard_normal(n if sa else 1).astype(F32)
    b = rng.standard_normal(n if sb else 1).astype(F32)
    if op == 3:  # keep divisors away from 0
        b = np.where(np.abs(b) < 0.1, F32(0.5), b).astype(F32)
    p = _i32(op, 1) + _i32(*_tab([n])) + _i32(*_tab([sa])) + _i32(*_tab([sb]))
    return 4, [p, _f(a), _f(b)], n, "exact"


def _layernorm(rng, rows, d, beta=True):
    x = (rng.standard_normal((rows, d)) * 3 + 1).astype(F32)
    g, bt = rng.standard_normal(d).astype(F32), rng.standard_normal(d).astype(F32)
    p = _i32(rows, d) + struct.pack("<f", 1e-5) + _i32(d, d if beta else 1)
    return 5, [p, _f(x), _f(g), _f(bt) if beta else b""], rows * d, "exact"


def _softmax(rng, outer, length, inner, log=0, scale=4.0):
    x = (rng.standard_normal(outer * length * inner) * scale).astype(F32)
    x[:: max(1, x.size // 7)] = -np.inf if not log else x[:: max(1, x.size // 7)]
    return 6, [_i32(outer, length, inner, log), _f(x)], x.size, ("rel", 1e-6)


def _unary(rng, op, n, scale=2.0):
    """erf: within ERF_ABS of erff (itself within an ulp); GELU 0.5 x (1 + erf(x / sqrt 2)):
    the erf error scaled by 0.5 |x| (|x| < 8 here), plus rounding."""
    x = (rng.standard_normal(n) * scale).astype(F32)
    x[:4] = [0.0, -0.0, 1e-6, -40.0]
    return 7, [_i32(op, n) + struct.pack("<2f", 0, 0), _f(x)], n, ("abs", (2 if op == 3 else 5) * ERF_ABS)


def _exp_erf_grid():
    x = np.concatenate([np.linspace(-87.3, 0, 2000), np.linspace(-6, 0, 3000), -np.logspace(-8, 0.6, 1000), [0.0]]).astype(F32)
    return 8, [_i32(x.size), _f(x)], x.size, ("grid", x)


def _reduce(rng, op, n_out, n_red, so, sr):
    x = rng.standard_normal((n_out - 1) * so + (n_red - 1) * sr + 1).astype(F32)
    p = _i32(op, 1) + _i32(*_tab([n_out])) + _i32(*_tab([so])) + _i32(*_tab([n_red])) + _i32(*_tab([sr]))
    return 9, [p, _f(x)], n_out, "exact"


def _cases() -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(SEED)
    c = []
    # the row-loop shapes of vit-tiny-ref (qkv split, proj, fc1, fc2, head), then odd ones
    for m, k, n in [(1, 64, 64), (1, 64, 128), (1, 128, 64), (1, 64, 10), (8, 64, 96),
                    (3, 17, 37), (2, 7, 9), (1, 1, 1), (1, 9, 16), (2, 130, 33)]:
        c.append((f"fc m{m} k{k} n{n}", _fc(rng, m, k, n)))
    c.append(("fc no bias", _fc(rng, 2, 24, 20, bias=False)))
    # QKᵀ and AV of one query row, 4 heads; then odd
    for hd, m, k, n in [(4, 1, 16, 64), (4, 1, 64, 16), (2, 3, 7, 21), (1, 2, 9, 5), (1, 1, 1, 17)]:
        c.append((f"matmul h{hd} m{m} k{k} n{n}", _matmul(rng, hd, m, k, n)))
    c.append(("conv patch 4x4/4", _conv(rng, 3, 32, 32, 64, 4, 4, 4, 0)))
    c.append(("conv 3x3 pad", _conv(rng, 4, 7, 6, 20, 3, 3, 1, 1)))
    c.append(("conv 1x1 no bias", _conv(rng, 5, 3, 3, 7, 1, 1, 1, 0, bias=False)))
    c.append(("conv 5x5 stride 2 pad 2", _conv(rng, 2, 9, 8, 17, 5, 5, 2, 2)))
    for op in range(4):
        for sa, sb in [(1, 1), (1, 0), (0, 1)]:
            c.append((f"binary op{op} {sa}{sb}", _binary(rng, op, 67, sa, sb)))
    c.append(("binary add 8", _binary(rng, 0, 8, 1, 1)))
    c.append(("binary add 5", _binary(rng, 0, 5, 1, 1)))
    c.append(("layernorm 3x64", _layernorm(rng, 3, 64)))
    c.append(("layernorm no beta", _layernorm(rng, 2, 33, beta=False)))
    c.append(("softmax 4x64", _softmax(rng, 4, 64, 1)))
    c.append(("softmax inner", _softmax(rng, 3, 5, 4)))
    c.append(("softmax wide", _softmax(rng, 2, 37, 1, scale=30.0)))
    c.append(("log softmax", _softmax(rng, 3, 11, 2, log=1)))
    c.append(("erf", _unary(rng, 3, 300)))                          # EF_UN_ERF
    c.append(("gelu", _unary(rng, 11, 300)))                        # EF_UN_GELU
    c.append(("reduce mean over tokens", _reduce(rng, 1, 64, 64, 1, 64)))   # ViT's token mean
    c.append(("reduce sum rows", _reduce(rng, 0, 5, 13, 13, 1)))
    c.append(("exp/erf grid", _exp_erf_grid()))
    return c


def _stream(cases) -> bytes:
    out = bytearray()
    for _, (kind, bufs, nout, _) in cases:
        out += struct.pack("<3I", kind, len(bufs), nout)
        for b in bufs:
            out += struct.pack("<I", len(b)) + b
    return bytes(out + struct.pack("<3I", 0, 0, 0))


def _check(cases, raw: bytes, where: str) -> None:
    bad, pos = [], 0
    for name, (_, _, nout, check) in cases:
        ref = np.frombuffer(raw[pos:pos + 4 * nout], F32)
        got = np.frombuffer(raw[pos + 4 * nout:pos + 8 * nout], F32)
        pos += 8 * nout
        if ref.size != nout or got.size != nout:
            bad.append(f"{name}: short output ({len(raw)} bytes in all)")
            continue
        if check[0] == "grid":   # ref holds exp(x), got erf(x): both against float64
            x = check[1].astype(np.float64)
            e_rel = np.abs(ref - np.exp(x)) / np.maximum(np.exp(x), np.finfo(F32).tiny)
            e_rel[np.exp(x) < 2.0 ** -126] = 0.0   # below float32's normal range: flushed to 0
            erf = np.array([math.erf(v) for v in x])
            e_abs = np.abs(got - erf)
            if e_rel.max() > EXP_REL:
                i = int(e_rel.argmax())
                bad.append(f"{name}: exp({x[i]}) = {ref[i]}, want {math.exp(x[i])}; rel {e_rel[i]:.2e}")
            if e_abs.max() > ERF_ABS:
                i = int(e_abs.argmax())
                bad.append(f"{name}: erf({x[i]}) = {got[i]}, want {erf[i]}; abs {e_abs[i]:.2e}")
            continue
        if check == "exact":
            diff = np.flatnonzero(~((ref == got) | (np.isnan(ref) & np.isnan(got))))
        else:
            err = np.abs(got.astype(np.float64) - ref)
            if check[0] == "rel":
                err = err / np.maximum(np.abs(ref), 1e-30)
                err[(ref == 0) & (got == 0)] = 0
            diff = np.flatnonzero(~(err <= check[1]))
        if diff.size:
            i = diff[0]
            bad.append(f"{name}: at {i}: got {got[i]!r}, want {ref[i]!r}; {diff.size} of {nout} differ"
                       f" ({check})")
    assert not bad, f"{where} (seed {SEED}): " + " | ".join(bad)


def test_f32_kernels_host(tmp_path):
    cases = _cases()
    _check(cases, run_host_driver(tmp_path, DRIVER, _stream(cases), werror=True), "host")


@pytest.mark.parametrize("board_name", ["stm32f746g-disco", "nucleo-f411re"])
def test_f32_kernels_qemu(tmp_path, board_name):
    cases = _cases()
    _check(cases, *run_target_driver(tmp_path, board_name, DRIVER, _stream(cases), timeout=120))
