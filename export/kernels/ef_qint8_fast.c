/* Fast int8 row kernels, bit-exact to the references in ef_qint8.c: the same float
 * operations on the same values in the same order, minus the overhead around them.
 * Softmax computes each exp once (the reference computes it twice), fuses dequantise,
 * pre-scale and max into one pass and skips a pre-scale of 1 (v * 1.0f == v). LayerNorm
 * fuses dequantise with the mean sum. Quantising uses ef_q8_t (no libm rintf on M4). */
#include "ef_kernels.h"
#include "ef_qfast.h"

int ef_lut_s8(const ef_lut_params *p, const int8_t *x, const int8_t *table, int8_t *y)
{
    const int8_t *t = table + 128; /* indexed by the signed byte itself */
    int32_t i = 0;
    for (; i + 4 <= p->n; i += 4) {
        const int8_t a = t[x[i]], b = t[x[i + 1]], c = t[x[i + 2]], d = t[x[i + 3]];
        y[i] = a, y[i + 1] = b, y[i + 2] = c, y[i + 3] = d;
    }
    for (; i < p->n; ++i) y[i] = t[x[i]];
    return EF_OK;
}

int ef_qbinary_s8(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const float as = p->a_scale, bs = p->b_scale, ys = p->y_scale;
    const int32_t n = p->shape[0], sa = p->a_stride[0], sb = p->b_stride[0];
    const int32_t azp = p->a_zp, bzp = p->b_zp, yzp = p->y_zp;
    int32_t i;
    if (p->rank != 1 || p->op < EF_QBIN_ADD || p->op > EF_QBIN_MUL)
        return ef_qbinary_s8_ref(p, a, b, y);
    for (i = 0; i < n; ++i) {
        const float u = (float)((int32_t)a[i * sa] - azp) * as;
        const float v = (float)((int32_t)b[i * sb] - bzp) * bs;
        float r;
        if (p->op == EF_QBIN_ADD) r = u + v;
        else if (p->op == EF_QBIN_SUB) r = u - v;
        else r = u * v;
        y[i] = ef_q8_t(r / ys, yzp);
    }
    return EF_OK;
}

int ef_qsoftmax_s8(const ef_qsoftmax_params *p, const int8_t *x, int8_t *y, float *scratch)
{
    const int32_t n = p->row, zp = p->x_zp, yzp = p->y_zp;
    const float xs = p->x_scale, ps = p->pre_scale, ys = p->y_scale;
    int32_t r, i;
    for (r = 0; r < p->rows; ++r, x += n, y += n) {
        float mx = -INFINITY, sum = 0.0f;
        for (i = 0; i < n; ++i) {
            float v = (float)((int32_t)x[i] - zp) * xs;
            if (ps != 1.0f) v = v * ps;
            scratch[i] = v;
            if (v > mx) mx = v;
        }
        for (i = 0; i < n; ++i) {
            const float e = expf(scratch[i] - mx);
            scratch[i] = e;
            sum += e;
        }
        for (i = 0; i < n; ++i) y[i] = ef_q8_t((scratch[i] / sum) / ys, yzp);
    }
    return EF_OK;
}

int ef_qlayernorm_s8(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                     const float *beta, int8_t *y, float *scratch)
{
    const int32_t d = p->size, zp = p->x_zp, yzp = p->y_zp;
    const float xs = p->x_scale, ys = p->y_scale;
    int32_t r, i;
    if (p->pool_rows != 0) return ef_qlayernorm_s8_ref(p, x, gamma, beta, y, scratch);
    for (r = 0; r < p->rows; ++r, x += d, y += d) {
        float mean = 0.0f, var = 0.0f, inv;
        for (i = 0; i < d; ++i) {
            const float v = (float)((int32_t)x[i] - zp) * xs;
            scratch[i] = v;
            mean += v;
        }
        mean /= (float)d;
        for (i = 0; i < d; ++i) {
            const float c = scratch[i] - mean;
            var += c * c;
        }
        var /= (float)d;
        inv = 1.0f / sqrtf(var + p->epsilon);
        for (i = 0; i < d; ++i) {
            float v = (scratch[i] - mean) * inv * gamma[i];
            if (beta) v += beta[i];
            y[i] = ef_q8_t(v / ys, yzp);
        }
    }
    return EF_OK;
}
