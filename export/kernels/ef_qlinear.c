/* int8 x int8 -> int32 matmul and conv2d with fixed-point requantisation (fold_qdq.py,
 * int8_matmul_aa.py).
 * Reference loops; an optimised variant (e.g. CMSIS-NN) must match them bit for bit. */
#include "ef_iter.h"

/* acc * mult * 2^(shift - 31), rounded half to even like onnxruntime's float requantisation
 * (which may still differ by one step: it multiplies by a float32 scale). 1 <= 31-shift <= 62. */
static int32_t ef_requantize(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo,
                             int32_t hi)
{
    const int32_t total = 31 - shift;
    const int64_t prod = (int64_t)acc * mult;
    const int64_t half = (int64_t)1 << (total - 1);
    int64_t q = prod >> total; /* arithmetic shift: floor */
    const int64_t rem = prod - q * ((int64_t)1 << total);
    if (rem > half || (rem == half && (q & 1))) ++q;
    q += zp;
    return (int32_t)(q < lo ? lo : (q > hi ? hi : q));
}

int ef_qmatmul_s8(const ef_qmatmul_params *p, const int8_t *x, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y)
{
    int32_t i, j, q;
    for (i = 0; i < p->m; ++i) {
        const int8_t *xr = x + (size_t)i * p->k;
        for (j = 0; j < p->n; ++j) {
            const int8_t *wr = w + (size_t)j * p->k;
            int32_t acc = bias ? bias[j] : 0;
            for (q = 0; q < p->k; ++q) acc += ((int32_t)xr[q] - p->x_zp) * (int32_t)wr[q];
            y[(size_t)i * p->n + j] = (int8_t)ef_requantize(acc, mult[j], shift[j], p->y_zp,
                                                            p->act_min, p->act_max);
        }
    }
    return EF_OK;
}

int ef_qconv2d_s8(const ef_qconv2d_params *qp, const int8_t *x, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y)
{
    const ef_conv2d_params *p = &qp->conv;
    const int32_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    int32_t b, oc, oy, ox, ic, ky, kx;
    if (p->groups <= 0 || p->c_in % p->groups || p->c_out % p->groups) return EF_ERR_PARAM;
    for (b = 0; b < p->n; ++b) {
        for (oc = 0; oc < p->c_out; ++oc) {
            const int32_t g = oc / cout_g;
            const int8_t *wk = w + (size_t)oc * cin_g * p->kh * p->kw;
            for (oy = 0; oy < p->oh; ++oy) {
                for (ox = 0; ox < p->ow; ++ox) {
                    int32_t acc = bias ? bias[oc] : 0;
                    for (ic = 0; ic < cin_g; ++ic) {
                        const int8_t *xc = x + ((size_t)b * p->c_in + g * cin_g + ic) * p->h * p->w;
                        for (ky = 0; ky < p->kh; ++ky) {
                            const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            if (iy < 0 || iy >= p->h) continue; /* padding is x_zp: adds 0 */
                            for (kx = 0; kx < p->kw; ++kx) {
                                const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                if (ix < 0 || ix >= p->w) continue;
                                acc += ((int32_t)xc[iy * p->w + ix] - qp->x_zp) *
                                       (int32_t)wk[(ic * p->kh + ky) * p->kw + kx];
                            }
                        }
                    }
                    y[(((size_t)b * p->c_out + oc) * p->oh + oy) * p->ow + ox] = (int8_t)
                        ef_requantize(acc, mult[oc], shift[oc], qp->y_zp, qp->act_min, qp->act_max);
                }
            }
        }
    }
    return EF_OK;
}

int ef_qmatmul_aa_s8_ref(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                     int8_t *y)
{
    const int32_t m = p->m, k = p->k, n = p->n;
    int32_t bi, nb = ef_numel(p->batch_rank, p->batch_shape);
    ef_iter it;
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        const int8_t *pa = a + it.off[0], *pb = b + it.off[1];
        int8_t *py = y + (size_t)bi * m * n;
        int32_t i, j, q;
        for (i = 0; i < m; ++i) {
            for (j = 0; j < n; ++j) {
                int32_t acc = 0;
                for (q = 0; q < k; ++q)
                    acc += ((int32_t)pa[i * k + q] - p->a_zp) *
                           ((int32_t)pb[p->trans_b ? j * k + q : q * n + j] - p->b_zp);
                py[i * n + j] = (int8_t)ef_requantize(acc, p->mult, p->shift, p->y_zp, -128, 127);
            }
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}
