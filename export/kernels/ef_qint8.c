/* int8 in, int8 out: table lookup, binary ops, and the row kernels (softmax, layer norm)
 * that run the float row kernels on one dequantised row at a time in a scratch row.
 * Reference kernels (_ref): ef_qint8_fast.c holds the bit-exact fast ones the model calls. */
#include <math.h>

#include "ef_iter.h"

/* onnxruntime's QuantizeLinear: saturate(rint(v / scale) + zp), half to even. */
static int8_t ef_q8(float v, float scale, int32_t zp)
{
    const float r = rintf(v / scale) + (float)zp;
    return (int8_t)(r < -128.0f ? -128.0f : (r > 127.0f ? 127.0f : r));
}

int ef_lut_s8_ref(const ef_lut_params *p, const int8_t *x, const int8_t *table, int8_t *y)
{
    int32_t i;
    for (i = 0; i < p->n; ++i) y[i] = table[(int32_t)x[i] + 128];
    return EF_OK;
}

int ef_qbinary_s8_ref(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    int32_t i, n = ef_numel(p->rank, p->shape);
    ef_iter it;
    if (p->op < EF_QBIN_ADD || p->op > EF_QBIN_MUL) return EF_ERR_PARAM;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        /* separate statements: no contraction into a fused multiply-add */
        const float u = (float)((int32_t)a[it.off[0]] - p->a_zp) * p->a_scale;
        const float v = (float)((int32_t)b[it.off[1]] - p->b_zp) * p->b_scale;
        float r;
        if (p->op == EF_QBIN_ADD) r = u + v;
        else if (p->op == EF_QBIN_SUB) r = u - v;
        else r = u * v;
        y[i] = ef_q8(r, p->y_scale, p->y_zp);
        ef_iter_next(&it, p->shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

static void ef_dq_row(const int8_t *x, int32_t n, int32_t zp, float scale, float *out)
{
    int32_t i;
    for (i = 0; i < n; ++i) out[i] = (float)((int32_t)x[i] - zp) * scale;
}

int ef_qsoftmax_s8_ref(const ef_qsoftmax_params *p, const int8_t *x, const float *exp_table,
                       int8_t *y, float *scratch)
{
    const int neg = p->x_scale * p->pre_scale < 0.0f; /* the largest DQ(x) * pre_scale is min x */
    int32_t r, i;
    for (r = 0; r < p->rows; ++r) {
        const int8_t *xr = x + (size_t)r * p->row;
        int8_t *yr = y + (size_t)r * p->row;
        int32_t top = xr[0];
        float sum = 0.0f;
        for (i = 1; i < p->row; ++i)
            if (neg ? xr[i] < top : xr[i] > top) top = xr[i];
        for (i = 0; i < p->row; ++i) {
            const int32_t d = (int32_t)xr[i] - top;
            scratch[i] = exp_table[d < 0 ? -d : d]; /* exp(s * (x_i - top)) */
            sum += scratch[i];
        }
        for (i = 0; i < p->row; ++i) yr[i] = ef_q8(scratch[i] / sum, p->y_scale, p->y_zp);
    }
    return EF_OK;
}

int ef_qlayernorm_s8_ref(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                     const float *beta, int8_t *y, float *scratch)
{
    const ef_layernorm_params lp = {1, p->size, p->epsilon, p->size, p->size};
    float *acc = scratch + p->size;
    int32_t r, i;
    if (p->pool_rows < 0 || (p->pool_rows > 0 && p->rows % p->pool_rows)) return EF_ERR_PARAM;
    for (r = 0; r < p->rows; ++r) {
        ef_dq_row(x + (size_t)r * p->size, p->size, p->x_zp, p->x_scale, scratch);
        ef_layernorm_f32(&lp, scratch, gamma, beta, scratch, NULL, NULL); /* in place */
        if (p->pool_rows == 0) {
            int8_t *yr = y + (size_t)r * p->size;
            for (i = 0; i < p->size; ++i) yr[i] = ef_q8(scratch[i], p->y_scale, p->y_zp);
            continue;
        }
        if (r % p->pool_rows == 0)
            for (i = 0; i < p->size; ++i) acc[i] = 0.0f;
        for (i = 0; i < p->size; ++i) acc[i] += scratch[i];
        if (r % p->pool_rows == p->pool_rows - 1) {
            int8_t *yr = y + (size_t)(r / p->pool_rows) * p->size;
            for (i = 0; i < p->size; ++i)
                yr[i] = ef_q8(acc[i] / (float)p->pool_rows, p->y_scale, p->y_zp);
        }
    }
    return EF_OK;
}
