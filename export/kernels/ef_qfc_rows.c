/* ef_qfc_rows_s8 (ef_qfc_rows.h): the fully-connected layer on int8 weight rows. On a core
 * with MVE the rows run through ef_mve_fc_rows (ef_mve.c); elsewhere the plain C below
 * computes the same sums and epilogue, so an artifact exported for a Helium core still runs
 * (slowly) on any other. */
#include "ef_qfc_rows.h"
#include "ef_mve.h"

#if !EF_MVE
/* Output j of a block: its epilogue record lies in e's 5 vectors (mult, h, -s, A, B). */
static int8_t ef_rows_epi(int32_t acc, const int32_t *e, int32_t j)
{
    int32_t q = (int32_t)(((int64_t)acc * e[j]) >> 32) + e[4 + j];
    q >>= -e[8 + j];
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    q = (q * e[12 + j] + e[16 + j]) >> 16;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

static void ef_fc_rows_c(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int8_t *y)
{
    const int32_t kp = (k + 15) / 16 * 16;
    int32_t j0, j, q;
    for (j0 = 0; j0 < n; j0 += 4, ws += 4 + kp + 20) {
        const int8_t *w = (const int8_t *)(ws + 4);
        for (j = 0; j < 4 && j0 + j < n; ++j) {
            int32_t acc = ws[j];
            for (q = 0; q < k; ++q) acc += x[q] * w[(q / 16) * 64 + 16 * j + q % 16];
            y[j0 + j] = ef_rows_epi(acc, ws + 4 + kp, j);
        }
    }
}
#endif

int ef_qfc_rows_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y)
{
    int32_t r;
    if (p->k <= 0 || p->kp != (p->k + 15) / 16 * 16) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r, x += p->k, y += p->n) {
#if EF_MVE
        ef_mve_fc_rows(x, p->k, ws, p->n, y);
#else
        ef_fc_rows_c(x, p->k, ws, p->n, y);
#endif
    }
    return EF_OK;
}

/* y[j * ystride] for j < n: one row through a 4-output stack buffer per block (the Helium
 * row stores 4 contiguous bytes; a convolution's outputs lie hw apart). */
static void ef_rows_strided(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int8_t *y, int32_t ystride)
{
    const int32_t bw = 4 + (k + 15) / 16 * 16 + 20;
    int8_t t[4];
    int32_t j0, j;
    for (j0 = 0; j0 < n; j0 += 4, ws += bw) {
        const int32_t nj = n - j0 < 4 ? n - j0 : 4;
#if EF_MVE
        ef_mve_fc_rows(x, k, ws, nj, t);
#else
        ef_fc_rows_c(x, k, ws, nj, t);
#endif
        for (j = 0; j < nj; ++j) y[(j0 + j) * ystride] = t[j];
    }
}

int ef_qconv2d_rows_s8(const ef_qconv2d_fc_params *qp, const int8_t *x, const int32_t *ws, int8_t *y)
{
    const ef_conv2d_params *p = &qp->conv;
    const int32_t k = p->c_in * p->kh * p->kw, hw = p->oh * p->ow;
    int8_t col[EF_QFC_KMAX];
    int32_t b, oy, ox, ic, ky, kx;
    if (p->groups != 1 || k > EF_QFC_KMAX || qp->kp != (k + 15) / 16 * 16) return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b, x += (size_t)p->c_in * p->h * p->w, y += (size_t)p->c_out * hw) {
        for (oy = 0; oy < p->oh; ++oy) {
            for (ox = 0; ox < p->ow; ++ox) {
                int8_t *cp = col;
                for (ic = 0; ic < p->c_in; ++ic) {
                    for (ky = 0; ky < p->kh; ++ky) {
                        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                        const int32_t in_y = iy >= 0 && iy < p->h;
                        const int8_t *xrow = x + ((size_t)ic * p->h + (in_y ? iy : 0)) * p->w;
                        for (kx = 0; kx < p->kw; ++kx) {
                            const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                            *cp++ = (in_y && ix >= 0 && ix < p->w) ? xrow[ix] : (int8_t)qp->x_zp;
                        }
                    }
                }
                ef_rows_strided(col, k, ws, p->c_out, y + oy * p->ow + ox, hw);
            }
        }
    }
    return EF_OK;
}
