/* Fast int8 fully-connected and convolution on weights packed offline (ops_qlinear.py,
 * pack_fc): bit-exact to ef_qmatmul_s8 / ef_qconv2d_s8, which stay the definition.
 *
 * Why the layout: on one token row (M = 1) every weight is used once, so its cost is the
 * load; pre-widened int16 pairs feed SMLAD (2 MACs) straight from LDRD, with no SXTB16.
 * The input row is widened once into the same pair order and reused by every output;
 * 4 outputs per pass share each input load. The input zero point is folded into the bias
 * (bias - x_zp * sum_k w), so padding taps read x_zp and add nothing, as in the reference. */
#include "ef_iter.h"
#include "ef_qfast.h"

/* x[0..k) -> kp/2 words of int16 pairs in SXTB16 order: (x0, x2), (x1, x3) per 4 values;
 * zeros past k (their packed weights are zero too). */
static void ef_widen_s8(const int8_t *x, int32_t k, int32_t kp, int32_t *xb)
{
    int32_t c = 0;
#if EF_DSP
    for (; 4 * c + 4 <= k; ++c) {
        const int32_t v = ef_ld32(x + 4 * c);
        xb[2 * c] = __sxtb16(v);
        xb[2 * c + 1] = ef_sxtb16_ror8(v);
    }
#endif
    for (; 4 * c < kp; ++c) {
        int32_t v[4], i;
        for (i = 0; i < 4; ++i) v[i] = 4 * c + i < k ? x[4 * c + i] : 0;
        xb[2 * c] = (int32_t)(((uint32_t)v[0] & 0xFFFFu) | ((uint32_t)v[2] << 16));
        xb[2 * c + 1] = (int32_t)(((uint32_t)v[1] & 0xFFFFu) | ((uint32_t)v[3] << 16));
    }
}

#if !EF_DSP
/* lo*lo + hi*hi of two int16 pairs: what SMLAD adds. */
static inline int32_t ef_dot2(int32_t a, int32_t b)
{
    return (int32_t)(int16_t)a * (int16_t)b + (a >> 16) * (b >> 16);
}
#endif

/* One output: chan {folded bias, mult, s, rnd} (ef_kernels.h) -> the reference's
 * ef_requant(acc, mult, shift) with the rounding constants worked out offline. */
static inline int32_t ef_fc_q(int32_t acc, const int32_t *ch)
{
    return ch[2] >= 1 ? ef_requant_s(acc, ch[1], ch[2], ch[3])
                      : ef_requant_ref(acc, ch[1], -1 - ch[2]);
}

/* The bias Add of ef_qfc_add_s8 after the matmul's own int8 output q. */
static inline int8_t ef_fc_add(int32_t q, float c, const ef_qfc_add_params *e)
{
    const float v = (float)(q - e->m_zp) * e->m_scale;
    return ef_q8_t((c + v) / e->y_scale, e->y_zp);
}

#if EF_DSP
/* 4 k of 4 outputs (16 MACs) in 13 instructions: LDRD of 4 inputs, LDM of 2 outputs'
 * 4 weight pairs (fixed registers: LDM fills them in register order), 8 SMLAD. */
#define EF_FC_STEP                                   \
    "ldrd %[xe], %[xo], [%[xp]], #8\n\t"             \
    "ldmia %[wp]!, {r8, r9, r10, r11}\n\t"           \
    "smlad %[a0], %[xe], %[w0], %[a0]\n\t"           \
    "smlad %[a0], %[xo], %[w1], %[a0]\n\t"           \
    "smlad %[a1], %[xe], %[w2], %[a1]\n\t"           \
    "smlad %[a1], %[xo], %[w3], %[a1]\n\t"           \
    "ldmia %[wp]!, {r8, r9, r10, r11}\n\t"           \
    "smlad %[a2], %[xe], %[w0], %[a2]\n\t"           \
    "smlad %[a2], %[xo], %[w1], %[a2]\n\t"           \
    "smlad %[a3], %[xe], %[w2], %[a3]\n\t"           \
    "smlad %[a3], %[xo], %[w3], %[a3]\n\t"
#endif

/* y[j * ystride] for j < n from one widened row: blocks of 4 outputs, kp/4 chunks each;
 * e (with addc) adds the bias Add of ef_qfc_add_s8, NULL for none. */
static void ef_fc_row(const ef_qfc_params *p, const int32_t *xb, const int32_t *w,
                      const int32_t *chan, const ef_qfc_add_params *e, const float *addc,
                      int8_t *y, int32_t ystride)
{
    const int32_t kc = p->kp / 4, zp = p->y_zp, lo = p->act_min, hi = p->act_max;
    int32_t j0, i, j;
    for (j0 = 0; j0 < p->n; j0 += 4, w += 8 * kc, chan += 16) {
        int32_t acc[4];
        int32_t a0 = chan[0], a1 = chan[4], a2 = chan[8], a3 = chan[12];
        const int32_t *xp = xb, *wp = w;
#if EF_DSP
        register int32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"),
            w3 __asm__("r11");
        int32_t xe, xo;
        i = kc;
        /* unrolled by 2: an odd first step, then pairs (the flags of LSRS survive the
         * step: LDRD, LDM and SMLAD leave N, Z, C alone) */
        __asm__ volatile(
            "lsrs %[i], %[i], #1\n\t"
            "bcc 2f\n\t"
            EF_FC_STEP
            "2:\n\t"
            "beq 3f\n\t"
            "1:\n\t"
            EF_FC_STEP
            EF_FC_STEP
            "subs %[i], %[i], #1\n\t"
            "bne 1b\n\t"
            "3:"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),
              [wp] "+r"(wp), [i] "+r"(i), [xe] "=&r"(xe), [xo] "=&r"(xo), [w0] "=&r"(w0),
              [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
            :
            : "cc", "memory");
#else
        for (i = kc; i > 0; --i, xp += 2, wp += 8) {
            const int32_t xe = xp[0], xo = xp[1];
            a0 += ef_dot2(xe, wp[0]) + ef_dot2(xo, wp[1]);
            a1 += ef_dot2(xe, wp[2]) + ef_dot2(xo, wp[3]);
            a2 += ef_dot2(xe, wp[4]) + ef_dot2(xo, wp[5]);
            a3 += ef_dot2(xe, wp[6]) + ef_dot2(xo, wp[7]);
        }
#endif
        if (j0 + 4 <= p->n && !e) {
            y[0] = ef_clamp8(ef_fc_q(a0, chan) + zp, lo, hi);
            y[ystride] = ef_clamp8(ef_fc_q(a1, chan + 4) + zp, lo, hi);
            y[2 * ystride] = ef_clamp8(ef_fc_q(a2, chan + 8) + zp, lo, hi);
            y[3 * ystride] = ef_clamp8(ef_fc_q(a3, chan + 12) + zp, lo, hi);
        } else if (j0 + 4 <= p->n) {
            const float *c = addc + j0;
            y[0] = ef_fc_add(ef_clamp8(ef_fc_q(a0, chan) + zp, lo, hi), c[0], e);
            y[ystride] = ef_fc_add(ef_clamp8(ef_fc_q(a1, chan + 4) + zp, lo, hi), c[1], e);
            y[2 * ystride] = ef_fc_add(ef_clamp8(ef_fc_q(a2, chan + 8) + zp, lo, hi), c[2], e);
            y[3 * ystride] = ef_fc_add(ef_clamp8(ef_fc_q(a3, chan + 12) + zp, lo, hi), c[3], e);
        } else {
            acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
            for (j = 0; j0 + j < p->n; ++j) {
                const int8_t q = ef_clamp8(ef_fc_q(acc[j], chan + 4 * j) + zp, lo, hi);
                y[j * ystride] = e ? ef_fc_add(q, addc[j0 + j], e) : q;
            }
        }
        y += 4 * ystride;
    }
}

int ef_qfc_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *w, const int32_t *chan,
              int8_t *y)
{
    int32_t xb[EF_QFC_KMAX / 2], r;
    if (p->k > EF_QFC_KMAX || p->kp != (p->k + 3) / 4 * 4) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r) {
        ef_widen_s8(x + (size_t)r * p->k, p->k, p->kp, xb);
        ef_fc_row(p, xb, w, chan, NULL, NULL, y + (size_t)r * p->n, 1);
    }
    return EF_OK;
}

int ef_qfc_add_s8(const ef_qfc_add_params *p, const int8_t *x, const int32_t *w,
                  const int32_t *chan, const float *addc, int8_t *y)
{
    const ef_qfc_params *f = &p->fc;
    int32_t xb[EF_QFC_KMAX / 2], r;
    if (f->k > EF_QFC_KMAX || f->kp != (f->k + 3) / 4 * 4 || f->y_zp != p->m_zp)
        return EF_ERR_PARAM;
    for (r = 0; r < f->m; ++r) {
        ef_widen_s8(x + (size_t)r * f->k, f->k, f->kp, xb);
        ef_fc_row(f, xb, w, chan, p, addc, y + (size_t)r * f->n, 1);
    }
    return EF_OK;
}

int ef_qconv2d_fc_s8(const ef_qconv2d_fc_params *qp, const int8_t *x, const int32_t *w,
                     const int32_t *chan, int8_t *y)
{
    const ef_conv2d_params *p = &qp->conv;
    const int32_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int32_t k = cin_g * p->kh * p->kw, hw = p->oh * p->ow;
    const ef_qfc_params fp = {1, k, cout_g, qp->kp, qp->y_zp, qp->act_min, qp->act_max};
    int32_t xb[EF_QFC_KMAX / 2], b, g, oy, ox, ic, ky, kx;
    int8_t col[EF_QFC_KMAX];
    if (p->groups <= 0 || p->c_in % p->groups || p->c_out % p->groups || k > EF_QFC_KMAX ||
        qp->kp != (k + 3) / 4 * 4)
        return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b) {
        for (g = 0; g < p->groups; ++g) {
            const int32_t np = (cout_g + 3) / 4 * 4;
            const int32_t *wg = w + (size_t)g * np * qp->kp / 2, *cg = chan + (size_t)g * np * 4;
            const int8_t *xg = x + ((size_t)b * p->c_in + g * cin_g) * p->h * p->w;
            int8_t *yg = y + ((size_t)b * p->c_out + g * cout_g) * hw;
            for (oy = 0; oy < p->oh; ++oy) {
                for (ox = 0; ox < p->ow; ++ox) {
                    int8_t *cp = col; /* im2col of one output pixel; padding reads x_zp */
                    for (ic = 0; ic < cin_g; ++ic) {
                        for (ky = 0; ky < p->kh; ++ky) {
                            const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            const int32_t in_y = iy >= 0 && iy < p->h;
                            const int8_t *xrow = xg + ((size_t)ic * p->h + (in_y ? iy : 0)) * p->w;
                            for (kx = 0; kx < p->kw; ++kx) {
                                const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                *cp++ = (in_y && ix >= 0 && ix < p->w) ? xrow[ix] : (int8_t)qp->x_zp;
                            }
                        }
                    }
                    ef_widen_s8(col, k, qp->kp, xb);
                    ef_fc_row(&fp, xb, wg, cg, NULL, NULL, yg + oy * p->ow + ox, hw);
                }
            }
        }
    }
    return EF_OK;
}

/* Activation x activation (QK^T, attention x V): b is k x n row-major and changes every
 * call, so it cannot be packed offline. a's row is widened once, zero point subtracted,
 * into (a[k], a[k+1]) pairs; b's zero point leaves as -b_zp * sum(a - a_zp). Two b rows
 * of 4 bytes become four (b[k][j], b[k+1][j]) pairs with PKHBT/PKHTB and SXTB16. */
int ef_qmatmul_aa_s8(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                     int8_t *y)
{
    const int32_t m = p->m, k = p->k, n = p->n, kh = k / 2, mult = p->mult, yzp = p->y_zp;
    const int32_t fast = p->shift <= -2, s = -1 - p->shift, rnd = fast ? (1 << (s - 1)) - 1 : 0;
    int32_t ap[EF_QFC_KMAX / 2], bi, nb = ef_numel(p->batch_rank, p->batch_shape);
#if EF_DSP
    const int32_t zz = (int32_t)(((uint32_t)p->a_zp & 0xFFFFu) | ((uint32_t)p->a_zp << 16));
#endif
    ef_iter it;
    if (k > EF_QFC_KMAX) return ef_qmatmul_aa_s8_ref(p, a, b, y);
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        const int8_t *pa = a + it.off[0], *pb = b + it.off[1];
        int8_t *py = y + (size_t)bi * m * n;
        int32_t i, j, q;
        for (i = 0; i < m; ++i, pa += k, py += n) {
            int32_t sa = 0, corr;
            q = 0;
#if EF_DSP
            /* 4 bytes at a time: SXTB16 splits (a0, a2) and (a1, a3), SSUB16 takes the zero
             * point off both halves (|a - a_zp| <= 255 fits), PKHBT / PKHTB repair the
             * (a0, a1), (a2, a3) pairs, SMLAD by (1, 1) adds them into the sum. */
            for (; q + 4 <= k; q += 4) {
                const int32_t w = ef_ld32(pa + q);
                const int32_t e = __ssub16(__sxtb16(w), zz), o = __ssub16(ef_sxtb16_ror8(w), zz);
                sa = __smlad(e, 0x00010001, sa);
                sa = __smlad(o, 0x00010001, sa);
                ap[q / 2] = ef_pkhbt(e, o);
                ap[q / 2 + 1] = ef_pkhtb(o, e);
            }
#endif
            for (; q < k; ++q) sa += (int32_t)pa[q] - p->a_zp;
            for (q = 0; q < kh; ++q)
                if (!EF_DSP || 2 * q >= (k & ~3))
                    ap[q] = (int32_t)(((uint32_t)(pa[2 * q] - p->a_zp) & 0xFFFFu) |
                                      ((uint32_t)(pa[2 * q + 1] - p->a_zp) << 16));
            corr = -p->b_zp * sa;
            j = 0;
#if EF_DSP
            /* whole blocks of 4 outputs, k even, the fast requantisation: accumulators stay
             * in registers and the outputs leave straight from them */
            if (!(k & 1) && fast) {
                for (; j + 4 <= n; j += 4) {
                    int32_t a0 = corr, a1 = corr, a2 = corr, a3 = corr;
                    const int8_t *bp = pb + j;
                    const int32_t *pq = ap;
                    for (q = kh; q > 0; --q, bp += 2 * n) {
                        const int32_t w1 = ef_ld32(bp), w2 = ef_ld32(bp + n);
                        const int32_t t = ef_pkhbt(w1, w2), u = ef_pkhtb(w2, w1);
                        const int32_t av = *pq++;
                        a0 = __smlad(av, __sxtb16(t), a0);
                        a1 = __smlad(av, ef_sxtb16_ror8(t), a1);
                        a2 = __smlad(av, __sxtb16(u), a2);
                        a3 = __smlad(av, ef_sxtb16_ror8(u), a3);
                    }
                    py[j] = (int8_t)__ssat(ef_requant_s(a0, mult, s, rnd) + yzp, 8);
                    py[j + 1] = (int8_t)__ssat(ef_requant_s(a1, mult, s, rnd) + yzp, 8);
                    py[j + 2] = (int8_t)__ssat(ef_requant_s(a2, mult, s, rnd) + yzp, 8);
                    py[j + 3] = (int8_t)__ssat(ef_requant_s(a3, mult, s, rnd) + yzp, 8);
                }
            }
#endif
            for (; j < n; j += 4) {
                int32_t acc[4] = {corr, corr, corr, corr}, jj;
                const int8_t *bp = pb + j;
                if (j + 4 <= n) {
#if EF_DSP
                    int32_t a0 = corr, a1 = corr, a2 = corr, a3 = corr;
                    for (q = 0; q < kh; ++q, bp += 2 * n) {
                        const uint32_t w1 = (uint32_t)ef_ld32(bp), w2 = (uint32_t)ef_ld32(bp + n);
                        const int32_t t = (int32_t)((w1 & 0xFFFFu) | (w2 << 16));
                        const int32_t u = (int32_t)((w2 & 0xFFFF0000u) | (w1 >> 16));
                        a0 = __smlad(ap[q], __sxtb16(t), a0);
                        a1 = __smlad(ap[q], ef_sxtb16_ror8(t), a1);
                        a2 = __smlad(ap[q], __sxtb16(u), a2);
                        a3 = __smlad(ap[q], ef_sxtb16_ror8(u), a3);
                    }
                    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
#else
                    for (q = 0; q < kh; ++q, bp += 2 * n) {
                        const int32_t lo = (int16_t)ap[q], hi = ap[q] >> 16;
                        for (jj = 0; jj < 4; ++jj) acc[jj] += lo * bp[jj] + hi * bp[n + jj];
                    }
#endif
                } else {
                    for (q = 0; q < kh; ++q, bp += 2 * n)
                        for (jj = 0; j + jj < n; ++jj)
                            acc[jj] += (int16_t)ap[q] * bp[jj] + (ap[q] >> 16) * bp[n + jj];
                }
                if (k & 1) /* the odd last row */
                    for (jj = 0; jj < 4 && j + jj < n; ++jj)
                        acc[jj] += ((int32_t)pa[k - 1] - p->a_zp) * bp[jj];
                for (jj = 0; jj < 4 && j + jj < n; ++jj)
                    py[j + jj] = ef_clamp8((fast ? ef_requant_s(acc[jj], mult, s, rnd)
                                                 : ef_requant_ref(acc[jj], mult, p->shift)) + yzp,
                                           -128, 127);
            }
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}
