/* float32 matmul (batched, broadcast), gemm and NCHW conv2d. Reference loops, accumulate
 * in float in the order k = 0..K-1 so an optimised variant can match bit for bit. */
#include <math.h>

#include "ef_iter.h"

int ef_matmul_f32(const ef_matmul_params *p, const float *a, const float *b, float *y)
{
    const int32_t m = p->m, k = p->k, n = p->n;
    int32_t bi, nb = ef_numel(p->batch_rank, p->batch_shape);
    ef_iter it;
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        const float *pa = a + it.off[0], *pb = b + it.off[1];
        float *py = y + (size_t)bi * m * n;
        int32_t i, j, q;
        for (i = 0; i < m; ++i) {
            for (j = 0; j < n; ++j) {
                float acc = 0.0f;
                for (q = 0; q < k; ++q) acc += pa[i * k + q] * pb[q * n + j];
                py[i * n + j] = acc;
            }
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

int ef_gemm_f32(const ef_gemm_params *p, const float *a, const float *b, const float *c,
                float *y)
{
    const int32_t m = p->m, k = p->k, n = p->n;
    int32_t i, j, q;
    for (i = 0; i < m; ++i) {
        for (j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (q = 0; q < k; ++q) {
                float av = p->trans_a ? a[q * m + i] : a[i * k + q];
                float bv = p->trans_b ? b[j * k + q] : b[q * n + j];
                acc += av * bv;
            }
            acc *= p->alpha;
            if (c) acc += p->beta * c[i * p->c_stride_m + j * p->c_stride_n];
            y[i * n + j] = acc;
        }
    }
    return EF_OK;
}

int ef_conv2d_f32(const ef_conv2d_params *p, const float *x, const float *w, const float *bias,
                  float *y)
{
    const int32_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    int32_t b, oc, oy, ox, ic, ky, kx;
    if (p->groups <= 0 || p->c_in % p->groups || p->c_out % p->groups) return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b) {
        for (oc = 0; oc < p->c_out; ++oc) {
            const int32_t g = oc / cout_g;
            const float *wk = w + (size_t)oc * cin_g * p->kh * p->kw;
            for (oy = 0; oy < p->oh; ++oy) {
                for (ox = 0; ox < p->ow; ++ox) {
                    float acc = bias ? bias[oc] : 0.0f;
                    for (ic = 0; ic < cin_g; ++ic) {
                        const float *xc = x + ((size_t)b * p->c_in + g * cin_g + ic) * p->h * p->w;
                        for (ky = 0; ky < p->kh; ++ky) {
                            const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            if (iy < 0 || iy >= p->h) continue;
                            for (kx = 0; kx < p->kw; ++kx) {
                                const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                if (ix < 0 || ix >= p->w) continue;
                                acc += xc[iy * p->w + ix] * wk[(ic * p->kh + ky) * p->kw + kx];
                            }
                        }
                    }
                    y[(((size_t)b * p->c_out + oc) * p->oh + oy) * p->ow + ox] = acc;
                }
            }
        }
    }
    return EF_OK;
}

/* One pooling window at (oy, ox); avg != 0 averages, else takes the max. */
static float ef_pool_window(const ef_pool2d_params *p, const float *xc, int32_t oy, int32_t ox,
                            int avg)
{
    int32_t ky, kx, count = 0;
    float acc = avg ? 0.0f : -INFINITY;
    const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    for (ky = 0; ky < p->kh; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        for (kx = 0; kx < p->kw; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) {
                /* explicit padding counts for count_include_pad; ceil_mode overhang never */
                if (avg && p->count_include_pad && iy < p->h + p->pad_bottom &&
                    ix < p->w + p->pad_right)
                    ++count;
                continue;
            }
            ++count;
            if (avg) acc += xc[iy * p->w + ix];
            else if (xc[iy * p->w + ix] > acc) acc = xc[iy * p->w + ix];
        }
    }
    return avg ? (count ? acc / (float)count : 0.0f) : acc;
}

static int ef_pool2d(const ef_pool2d_params *p, const float *x, float *y, int avg)
{
    int32_t nc, oy, ox;
    for (nc = 0; nc < p->n * p->c; ++nc) {
        const float *xc = x + (size_t)nc * p->h * p->w;
        float *yc = y + (size_t)nc * p->oh * p->ow;
        for (oy = 0; oy < p->oh; ++oy)
            for (ox = 0; ox < p->ow; ++ox) yc[oy * p->ow + ox] = ef_pool_window(p, xc, oy, ox, avg);
    }
    return EF_OK;
}

int ef_maxpool2d_f32(const ef_pool2d_params *p, const float *x, float *y)
{
    return ef_pool2d(p, x, y, 0);
}

int ef_avgpool2d_f32(const ef_pool2d_params *p, const float *x, float *y)
{
    return ef_pool2d(p, x, y, 1);
}
