/* Fast float32 kernels for FPU cores: matmul with packed constant weights (ef_fc_f32),
 * activation x activation matmul, conv2d with packed weights, softmax and the erf/GELU
 * maps. Each has a reference kernel it is tested against (tests/unit/test_kernels_f32.py):
 * the matmuls equal "bias, then fmaf over k in order" bit for bit (and the plain reference
 * ef_matmul_f32 / ef_conv2d_f32 within rounding); softmax and erf differ from expf/erff by
 * the bounds stated in ef_f32_fast.h. */
#include "ef_f32_fast.h"

#include "ef_iter.h"

static const float ef_zero16[16] = {0};

int ef_fc_f32(const ef_fc_f32_params *p, const float *x, const float *w, const float *bias,
              float *y)
{
    const int32_t m = p->m, k = p->k, n = p->n, nb = n >> 4, r = n & 15;
    int32_t i, jb;
    for (i = 0; i < m; ++i, x += k, y += n) {
        const float *wb = w;
        for (jb = 0; jb < nb; ++jb, wb += 16 * k)
            ef_acc16_packed(y + 16 * jb, bias ? bias + 16 * jb : ef_zero16, x, wb, k);
        if (r) ef_acc_tail(y + 16 * nb, bias ? bias + 16 * nb : ef_zero16, r, x, wb, k, r);
    }
    return EF_OK;
}

int ef_matmul_f32_fast(const ef_matmul_params *p, const float *a, const float *b, float *y)
{
    const int32_t m = p->m, k = p->k, n = p->n, nb = n >> 4, r = n & 15;
    int32_t bi, i, jb, nbat = ef_numel(p->batch_rank, p->batch_shape);
    ef_iter it;
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nbat; ++bi) {
        const float *pa = a + it.off[0], *pb = b + it.off[1];
        float *py = y + (size_t)bi * m * n;
        for (i = 0; i < m; ++i, pa += k, py += n) {
            for (jb = 0; jb < nb; ++jb) ef_acc16_strided(py + 16 * jb, ef_zero16, pa, pb + 16 * jb, k, n);
            if (r) ef_acc_tail(py + 16 * nb, ef_zero16, r, pa, pb + 16 * nb, k, n);
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

/* One output pixel, one block of `r` (<= 16) output channels: w is the block's packed
 * weights (c_in, kh, kw, r). Rows that fall in the padding are skipped; a row cut by the
 * left/right padding is copied into `row` with zeros first. */
static void ef_conv_pixel(const ef_conv2d_params *p, const float *xb, const float *w, int32_t r,
                          int32_t oy, int32_t ox, float *acc)
{
    const int32_t kw = p->kw, y0 = oy * p->stride_h - p->pad_top;
    const int32_t x0 = ox * p->stride_w - p->pad_left;
    const int inside = x0 >= 0 && x0 + kw <= p->w;
    float row[16];
    int32_t ic, ky, kx;
    for (ic = 0; ic < p->c_in; ++ic) {
        const float *xc = xb + (size_t)ic * p->h * p->w;
        for (ky = 0; ky < p->kh; ++ky, w += kw * r) {
            const int32_t iy = y0 + ky * p->dil_h;
            const float *xr;
            if (iy < 0 || iy >= p->h) continue;
            xr = xc + iy * p->w + x0;
            if (!inside) {
                for (kx = 0; kx < kw; ++kx)
                    row[kx] = (x0 + kx >= 0 && x0 + kx < p->w) ? xr[kx] : 0.0f;
                xr = row;
            }
            if (r == 16) ef_acc16_packed(acc, acc, xr, w, kw);
            else ef_acc_tail(acc, acc, r, xr, w, kw, r);
        }
    }
}

int ef_conv2d_f32_fast(const ef_conv2d_params *p, const float *x, const float *w,
                       const float *bias, float *y)
{
    const int32_t ohw = p->oh * p->ow, kk = p->c_in * p->kh * p->kw;
    int32_t b, ob, oy, ox, j;
    if (p->groups != 1 || p->dil_w != 1 || p->kw > 16) return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b) {
        const float *xb = x + (size_t)b * p->c_in * p->h * p->w;
        float *yb = y + (size_t)b * p->c_out * ohw;
        for (ob = 0; ob < p->c_out; ob += 16) {
            const int32_t r = p->c_out - ob < 16 ? p->c_out - ob : 16;
            const float *wb = w + (size_t)ob * kk;
            for (oy = 0; oy < p->oh; ++oy) {
                for (ox = 0; ox < p->ow; ++ox) {
                    float acc[16], *py = yb + (size_t)ob * ohw + oy * p->ow + ox;
                    for (j = 0; j < r; ++j) acc[j] = bias ? bias[ob + j] : 0.0f;
                    ef_conv_pixel(p, xb, wb, r, oy, ox, acc);
                    for (j = 0; j < r; ++j, py += ohw) *py = acc[j];
                }
            }
        }
    }
    return EF_OK;
}

/* exp is computed once per element (ef_exp_neg, after the max shift) and scaled by 1/sum. */
int ef_softmax_f32_fast(const ef_softmax_params *p, const float *x, float *y)
{
    const int32_t L = p->axis_len, S = p->inner;
    int32_t o, in, i;
    for (o = 0; o < p->outer; ++o) {
        for (in = 0; in < S; ++in) {
            const float *xr = x + (size_t)o * L * S + in;
            float *yr = y + (size_t)o * L * S + in;
            float mx = -INFINITY, sum = 0.0f, inv;
            const float *px;
            float *py;
            for (i = 0, px = xr; i < L; ++i, px += S) mx = *px > mx ? *px : mx;
            if (p->log) {
                float ls;
                for (i = 0, px = xr; i < L; ++i, px += S) sum += ef_exp_neg(*px - mx);
                ls = logf(sum);
                for (i = 0, px = xr, py = yr; i < L; ++i, px += S, py += S) *py = *px - mx - ls;
                continue;
            }
            for (i = 0, px = xr, py = yr; i < L; ++i, px += S, py += S) {
                const float e = ef_exp_neg(*px - mx);
                *py = e;
                sum += e;
            }
            inv = 1.0f / sum;
            for (i = 0, py = yr; i < L; ++i, py += S) *py *= inv;
        }
    }
    return EF_OK;
}

int ef_unary_f32_fast(const ef_unary_params *p, const float *x, float *y)
{
    const int32_t n = p->n;
    int32_t i;
    switch (p->op) {
    case EF_UN_ERF:
        for (i = 0; i < n; ++i) y[i] = ef_erf_fast(x[i]);
        return EF_OK;
    case EF_UN_GELU:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = 0.5f * v * (1.0f + ef_erf_fast(v * 0.70710678118654752f));
        }
        return EF_OK;
    default:
        return ef_unary_f32(p, x, y);
    }
}
