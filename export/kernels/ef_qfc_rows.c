/* ef_qfc_rows_s8 (ef_qfc_rows.h): the fully-connected layer on int8 weight rows. On a core
 * with MVE the rows run through ef_mve_fc_rows (ef_mve.c); elsewhere the plain C below
 * computes the same sums and epilogue, so an artifact exported for a Helium core still runs
 * (slowly) on any other. */
#include <string.h>

#include "ef_qfc_rows.h"
#include "ef_mve.h"
#if EF_MVE
#include <arm_mve.h>
#endif

/* The words of one block of 4 outputs: biases, kp / 4 words of weights, the epilogue's
 * vectors (5 with the second stage, else 3). */
static int32_t ef_rows_block_words(int32_t k, int32_t two)
{
    return 4 + (k + 15) / 16 * 16 + (two ? 20 : 12);
}

#if !EF_MVE
/* Output j of a block: its epilogue record lies in e's vectors (mult, h, 24 - s[, A, B]). */
static int8_t ef_rows_epi(int32_t acc, const int32_t *e, int32_t j, int32_t two)
{
    int32_t q = (int32_t)(((int64_t)acc * e[j]) >> 32) + e[4 + j];
    q >>= 24 - e[8 + j];
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    if (!two) return (int8_t)q;
    q = (q * e[12 + j] + e[16 + j]) >> 16;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

static void ef_fc_rows_c(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int32_t two, int8_t *y)
{
    const int32_t kp = (k + 15) / 16 * 16, bw = ef_rows_block_words(k, two);
    int32_t j0, j, q;
    for (j0 = 0; j0 < n; j0 += 4, ws += bw) {
        const int8_t *w = (const int8_t *)(ws + 4);
        for (j = 0; j < 4 && j0 + j < n; ++j) {
            int32_t acc = ws[j];
            for (q = 0; q < k; ++q) acc += x[q] * w[(q / 16) * 64 + 16 * j + q % 16];
            y[j0 + j] = ef_rows_epi(acc, ws + 4 + kp, j, two);
        }
    }
}
#define ef_mve_fc_rows ef_fc_rows_c
#endif

int ef_qfc_rows_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y)
{
    const int32_t two = ws[0];
    int32_t r;
    if (p->k <= 0 || p->kp != (p->k + 15) / 16 * 16) return EF_ERR_PARAM;
#if EF_MVE
    if (p->m == 1 && p->n >= 4 && !(p->n & 3)) {   /* one row of whole blocks: its kernel directly */
        EF_MVE_FC_FN(p->k, two)(x, p->k, ws + 1, p->n >> 2, y);
        return EF_OK;
    }
#endif
    for (r = 0; r < p->m; ++r, x += p->k, y += p->n) ef_mve_fc_rows(x, p->k, ws + 1, p->n, two, y);
    return EF_OK;
}

/* y[j * ystride] for j < n: one row, up to 64 outputs at a time through a stack buffer (the
 * row stores contiguous bytes; a convolution's outputs lie hw apart: on Helium scattered 8
 * at a time by ef_mve_copy8). */
static void ef_rows_strided(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int32_t two, int8_t *y,
                            int32_t ystride)
{
    const int32_t bw = ef_rows_block_words(k, two);
    int8_t t[64];
    int32_t j0, j;
    for (j0 = 0; j0 < n; j0 += 64, ws += 16 * bw) {
        const int32_t nj = n - j0 < 64 ? n - j0 : 64;
        ef_mve_fc_rows(x, k, ws, nj, two, t);
#if EF_MVE
        if (ef_mve_copy8((uint8_t *)y + (size_t)j0 * ystride, ystride, (const uint8_t *)t, 1, nj)) continue;
#endif
        for (j = 0; j < nj; ++j) y[(j0 + j) * ystride] = t[j];
    }
}

int ef_qconv2d_rows_s8(const ef_qconv2d_fc_params *qp, const int8_t *x, const int32_t *ws, int8_t *y)
{
    const ef_conv2d_params *p = &qp->conv;
    const int32_t k = p->c_in * p->kh * p->kw, hw = p->oh * p->ow, two = ws[0];
    int8_t col[EF_QFC_KMAX];
    int32_t b, oy, ox, ic, ky, kx;
#if EF_MVE
    /* A window of kh * kw <= 16 bytes at offsets ky * w + kx < 256 from its corner: one byte
     * gather a channel (VLDRB.U8 with 8-bit offsets), where the window lies inside x. */
    const int32_t wn = p->kh * p->kw, plane = p->h * p->w;
    const int32_t gat = p->dil_h == 1 && p->dil_w == 1 && wn <= 16 && (p->kh - 1) * p->w + p->kw <= 256;
    const mve_pred16_t wp = vctp8q((uint32_t)wn);
    uint8x16_t off = vdupq_n_u8(0);
    if (gat) {
        uint8_t o[16] = {0};
        for (ky = 0; ky < p->kh; ++ky)
            for (kx = 0; kx < p->kw; ++kx) o[ky * p->kw + kx] = (uint8_t)(ky * p->w + kx);
        off = vld1q_u8(o);
    }
#endif
    if (p->groups != 1 || k > EF_QFC_KMAX || qp->kp != (k + 15) / 16 * 16) return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b, x += (size_t)p->c_in * p->h * p->w, y += (size_t)p->c_out * hw) {
        for (oy = 0; oy < p->oh; ++oy) {
            for (ox = 0; ox < p->ow; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t inside = p->dil_w == 1 && ix0 >= 0 && ix0 + p->kw <= p->w;
                int8_t *cp = col;
#if EF_MVE
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                if (gat && inside && iy0 >= 0 && iy0 + p->kh <= p->h) {
                    const uint8_t *xw = (const uint8_t *)x + (size_t)iy0 * p->w + ix0;
                    for (ic = 0; ic < p->c_in; ++ic, xw += plane, cp += wn)
                        vstrbq_p_u8((uint8_t *)cp, vldrbq_gather_offset_z_u8(xw, off, wp), wp);
                    ef_rows_strided(col, k, ws + 1, p->c_out, two, y + oy * p->ow + ox, hw);
                    continue;
                }
#endif
                for (ic = 0; ic < p->c_in; ++ic) {
                    for (ky = 0; ky < p->kh; ++ky) {
                        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                        const int32_t in_y = iy >= 0 && iy < p->h;
                        const int8_t *xrow = x + ((size_t)ic * p->h + (in_y ? iy : 0)) * p->w;
                        if (in_y && inside) {   /* the window's row lies inside x: copied whole */
                            if (p->kw == 4) memcpy(cp, xrow + ix0, 4);   /* one LDR and STR */
                            else for (kx = 0; kx < p->kw; ++kx) cp[kx] = xrow[ix0 + kx];
                            cp += p->kw;
                            continue;
                        }
                        for (kx = 0; kx < p->kw; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            *cp++ = (in_y && ix >= 0 && ix < p->w) ? xrow[ix] : (int8_t)qp->x_zp;
                        }
                    }
                }
                ef_rows_strided(col, k, ws + 1, p->c_out, two, y + oy * p->ow + ox, hw);
            }
        }
    }
    return EF_OK;
}
