/* Fast int8 fully-connected and convolution on weights packed offline (ops_qlinear.py,
 * pack_fc): bit-exact to ef_qmatmul_s8 / ef_qconv2d_s8, which stay the definition.
 *
 * Why the layout: on one token row (M = 1) every weight is used once, so its cost is the
 * load; pre-widened int16 pairs feed SMLAD (2 MACs) straight from LDRD, with no SXTB16.
 * The input row is widened once into the same pair order and reused by every output;
 * 4 outputs per pass share each input load. The input zero point is folded into the bias
 * (bias - x_zp * sum_k w), so padding taps read x_zp and add nothing, as in the reference. */
#include "ef_kernels.h"
#include "ef_mve.h"
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

/* 4 accumulators of one block over kc chunks of 4 k (unrolled by 4 chunks: the
 * loop costs 2 instructions per 64 MACs); ef_fc_row and ef_fc_row_epi share it. */
static inline void ef_fc_block(const int32_t *xp, const int32_t *wp, int32_t kc, int32_t *acc)
{
#if EF_MVE /* Helium: gathers of each output's 8 weights, VMLADAVA (ef_mve.c) */
    ef_mve_fc_block(xp, wp, kc, acc);
#else
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], i;
#if EF_DSP
    register int32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"),
        w3 __asm__("r11");
    int32_t xe, xo;
    for (i = kc & 3; i > 0; --i)
        __asm__ volatile(EF_FC_STEP
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),
              [wp] "+r"(wp), [xe] "=&r"(xe), [xo] "=&r"(xo), [w0] "=&r"(w0), [w1] "=&r"(w1),
              [w2] "=&r"(w2), [w3] "=&r"(w3)
            :
            : "memory");
    i = kc >> 2;
    if (i > 0)
        __asm__ volatile(
            "1:\n\t"
            EF_FC_STEP EF_FC_STEP EF_FC_STEP EF_FC_STEP
            "subs %[i], %[i], #1\n\t"
            "bne 1b"
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
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
#endif /* EF_MVE */
}

/* y[j * ystride] for j < n from one widened row: blocks of 4 outputs, kp/4 chunks each;
 * e (with addc) adds the bias Add of ef_qfc_add_s8, NULL for none. */
static void ef_fc_row(const ef_qfc_params *p, const int32_t *xb, const int32_t *w,
                      const int32_t *chan, const ef_qfc_add_params *e, const float *addc,
                      int8_t *y, int32_t ystride)
{
    const int32_t kc = p->kp / 4, zp = p->y_zp, lo = p->act_min, hi = p->act_max;
    int32_t j0, j;
    for (j0 = 0; j0 < p->n; j0 += 4, w += 8 * kc, chan += 16) {
        int32_t acc[4] = {chan[0], chan[4], chan[8], chan[12]};
        ef_fc_block(xb, w, kc, acc);
        const int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
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
            for (j = 0; j0 + j < p->n; ++j) {
                const int8_t q = ef_clamp8(ef_fc_q(acc[j], chan + 4 * j) + zp, lo, hi);
                y[j * ystride] = e ? ef_fc_add(q, addc[j0 + j], e) : q;
            }
        }
        y += 4 * ystride;
    }
}

/* ---- the all-integer epilogue (ef_qfc_epi_s8) ---------------------------------------- */

/* One output of ef_qfc_epi_s8 from its accumulator and record e = {mult, h, A, B}, s = the
 * low byte of B (qepilogue.py picks B so): the matmul's int8 q, then its bias Add (or the
 * identity) as ssat8((q * A + B) >> 16). */
static inline int8_t ef_epi(int32_t acc, const int32_t *e)
{
    const int32_t q = ef_sat8(ef_smmla(acc, e[0], e[1]) >> (e[3] & 0xFF));
    return (int8_t)ef_sat8((q * e[2] + e[3]) >> 16);
}

#if EF_DSP && !EF_MVE
/* The epilogue of one output in 7 instructions: LDM of its record {mult, h, A, B} (fixed
 * registers, in order), SMMLA, ASR by B's low byte (ASR reads only that), SSAT, MLA, SSAT
 * with the >> 16, STRB. */
#define EF_EPI_STEP(acc)                                  \
    "ldmia %[wp]!, {r8, r9, r10, r11}\n\t"                \
    "smmla %[xe], " acc ", r8, r9\n\t"                    \
    "asr %[xe], %[xe], r11\n\t"                           \
    "ssat %[xe], #8, %[xe]\n\t"                           \
    "mla %[xe], %[xe], r10, r11\n\t"                      \
    "ssat %[xe], #8, %[xe], asr #16\n\t"                  \
    "strb %[xe], [%[yp]], #1\n\t"

/* nb whole blocks of a row with k % 16 == 0 in one asm block: per block LDM of the 4 biases
 * into r0..r3, the MAC loop (16 k per pass), the 4 epilogues, all from one stream. The
 * widened row's start, the pass count and the block count live on the stack. */
static void ef_fc_row_asm(const int32_t *xb, const int32_t *wp, int32_t kc16, int32_t nb,
                          int8_t *yp)
{
    register int32_t a0 __asm__("r0"), a1 __asm__("r1"), a2 __asm__("r2"), a3 __asm__("r3");
    register int32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r11");
    const int32_t *xp;
    int32_t xe, xo, i;
    __asm__ volatile(
        "1:\n\t"
        "ldmia %[wp]!, {r0, r1, r2, r3}\n\t"
        "ldr %[xp], %[xb]\n\t"
        "ldr %[i], %[kc]\n\t"
        "2:\n\t"
        EF_FC_STEP EF_FC_STEP EF_FC_STEP EF_FC_STEP
        "subs %[i], %[i], #1\n\t"
        "bne 2b\n\t"
        EF_EPI_STEP("r0") EF_EPI_STEP("r1") EF_EPI_STEP("r2") EF_EPI_STEP("r3")
        "ldr %[i], %[nb]\n\t"
        "subs %[i], %[i], #1\n\t"
        "str %[i], %[nb]\n\t"
        "bne 1b"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [xp] "=&r"(xp),
          [wp] "+r"(wp), [i] "=&r"(i), [xe] "=&r"(xe), [xo] "=&r"(xo), [w0] "=&r"(w0),
          [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [yp] "+r"(yp), [nb] "+m"(nb)
        : [xb] "m"(xb), [kc] "m"(kc16)
        : "cc", "memory");
}
#endif

/* y[0..n) from one widened row and the packed stream: per block of 4 outputs, 4 folded
 * biases, kp / 4 chunks of 8 weight words, 4 records of 4 words. */
static void ef_fc_row_epi(const ef_qfc_params *p, const int32_t *xb, const int32_t *ws,
                          int8_t *y)
{
    const int32_t kc = p->kp / 4, nb = p->n / 4, bw = 4 + 8 * kc + 16;
    int32_t b = 0, j;
#if EF_DSP && !EF_MVE
    if (!(kc & 3) && nb > 0) {
        ef_fc_row_asm(xb, ws, kc / 4, nb, y);
        b = nb, ws += nb * bw, y += 4 * nb;
    }
#endif
    for (; b < nb; ++b, ws += bw) {
        int32_t acc[4] = {ws[0], ws[1], ws[2], ws[3]};
        ef_fc_block(xb, ws + 4, kc, acc);
#if EF_MVE
        ef_mve_fc_epi4(acc, ws + 4 + 8 * kc, y);
        y += 4;
#else
        for (j = 0; j < 4; ++j) *y++ = ef_epi(acc[j], ws + 4 + 8 * kc + 4 * j);
#endif
    }
    if (p->n & 3) { /* the last, partial block */
        int32_t acc[4] = {ws[0], ws[1], ws[2], ws[3]};
        ef_fc_block(xb, ws + 4, kc, acc);
        for (j = 0; j < (p->n & 3); ++j) *y++ = ef_epi(acc[j], ws + 4 + 8 * kc + 4 * j);
    }
}

int ef_qfc_epi_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y)
{
    int32_t xb[EF_QFC_KMAX / 2], r;
    if (p->k > EF_QFC_KMAX || p->kp != (p->k + 3) / 4 * 4) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r) {
        ef_widen_s8(x + (size_t)r * p->k, p->k, p->kp, xb);
        ef_fc_row_epi(p, xb, ws, y + (size_t)r * p->n);
    }
    return EF_OK;
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
