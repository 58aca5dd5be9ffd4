/* Fast int8 row kernels, bit-exact to the references in ef_qint8.c: the same float
 * operations on the same values in the same order, minus the overhead around them.
 * Softmax reads its exponentials from the node's table (row max in int8, no expf). LayerNorm
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
    if (p->op == EF_QBIN_ADD && sa == 1 && sb == 1) { /* the residual add: dense, no switch */
        for (i = 0; i + 2 <= n; i += 2) {
            const float u0 = (float)((int32_t)a[i] - azp) * as;
            const float v0 = (float)((int32_t)b[i] - bzp) * bs;
            const float u1 = (float)((int32_t)a[i + 1] - azp) * as;
            const float v1 = (float)((int32_t)b[i + 1] - bzp) * bs;
            y[i] = ef_q8_t((u0 + v0) / ys, yzp);
            y[i + 1] = ef_q8_t((u1 + v1) / ys, yzp);
        }
        for (; i < n; ++i)
            y[i] = ef_q8_t(((float)((int32_t)a[i] - azp) * as + (float)((int32_t)b[i] - bzp) * bs)
                           / ys, yzp);
        return EF_OK;
    }
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

int ef_qsoftmax_s8(const ef_qsoftmax_params *p, const int8_t *x, const float *exp_table,
                   int8_t *y, float *scratch)
{
    const int32_t n = p->row, yzp = p->y_zp;
    const float ys = p->y_scale;
    int32_t r, i;
    (void)scratch;
    if (n < 1 || p->x_scale * p->pre_scale < 0.0f)
        return ef_qsoftmax_s8_ref(p, x, exp_table, y, scratch);
    for (r = 0; r < p->rows; ++r, x += n, y += n) {
        const float *t;
        int32_t top = x[0];
        float sum = 0.0f;
        i = 1;
#if EF_DSP
        if (n >= 8) { /* 4 bytewise maxima at once: SSUB8 sets GE where v >= m, SEL keeps */
            int32_t m = ef_ld32(x), v, k;
            for (i = 4; i + 4 <= n; i += 4) {
                v = ef_ld32(x + i);
                __asm__("ssub8 %0, %2, %1\n\tsel %1, %2, %1" : "=&r"(k), "+r"(m) : "r"(v));
            }
            top = (int8_t)m;
            for (k = 1; k < 4; ++k) if ((int8_t)(m >> (8 * k)) > top) top = (int8_t)(m >> (8 * k));
        }
#endif
        for (; i < n; ++i) if (x[i] > top) top = x[i];
        t = exp_table + top; /* exp_table[top - x_i] == t[-x_i] */
        for (i = 0; i + 4 <= n; i += 4)
            sum += t[-x[i]], sum += t[-x[i + 1]], sum += t[-x[i + 2]], sum += t[-x[i + 3]];
        for (; i < n; ++i) sum += t[-x[i]];
        for (i = 0; i + 4 <= n; i += 4) {
            y[i] = ef_q8_t((t[-x[i]] / sum) / ys, yzp);
            y[i + 1] = ef_q8_t((t[-x[i + 1]] / sum) / ys, yzp);
            y[i + 2] = ef_q8_t((t[-x[i + 2]] / sum) / ys, yzp);
            y[i + 3] = ef_q8_t((t[-x[i + 3]] / sum) / ys, yzp);
        }
        for (; i < n; ++i) y[i] = ef_q8_t((t[-x[i]] / sum) / ys, yzp);
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
        /* unrolled by 4, every sum still in index order (same float results) */
        for (i = 0; i + 4 <= d; i += 4) {
            const float v0 = (float)((int32_t)x[i] - zp) * xs;
            const float v1 = (float)((int32_t)x[i + 1] - zp) * xs;
            const float v2 = (float)((int32_t)x[i + 2] - zp) * xs;
            const float v3 = (float)((int32_t)x[i + 3] - zp) * xs;
            scratch[i] = v0, scratch[i + 1] = v1, scratch[i + 2] = v2, scratch[i + 3] = v3;
            mean += v0, mean += v1, mean += v2, mean += v3;
        }
        for (; i < d; ++i) {
            const float v = (float)((int32_t)x[i] - zp) * xs;
            scratch[i] = v;
            mean += v;
        }
        mean /= (float)d;
        for (i = 0; i + 4 <= d; i += 4) {
            const float c0 = scratch[i] - mean, c1 = scratch[i + 1] - mean;
            const float c2 = scratch[i + 2] - mean, c3 = scratch[i + 3] - mean;
            var += c0 * c0, var += c1 * c1, var += c2 * c2, var += c3 * c3;
        }
        for (; i < d; ++i) {
            const float c = scratch[i] - mean;
            var += c * c;
        }
        var /= (float)d;
        inv = 1.0f / sqrtf(var + p->epsilon);
        if (beta) {
            for (i = 0; i + 2 <= d; i += 2) {
                const float v0 = (scratch[i] - mean) * inv * gamma[i] + beta[i];
                const float v1 = (scratch[i + 1] - mean) * inv * gamma[i + 1] + beta[i + 1];
                y[i] = ef_q8_t(v0 / ys, yzp);
                y[i + 1] = ef_q8_t(v1 / ys, yzp);
            }
            for (; i < d; ++i) y[i] = ef_q8_t(((scratch[i] - mean) * inv * gamma[i] + beta[i]) / ys, yzp);
        } else {
            for (i = 0; i < d; ++i) y[i] = ef_q8_t(((scratch[i] - mean) * inv * gamma[i]) / ys, yzp);
        }
    }
    return EF_OK;
}
