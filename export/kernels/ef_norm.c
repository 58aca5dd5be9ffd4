/* float32 softmax, layer/batch normalisation and reductions. */
#include <math.h>

#include "ef_iter.h"

int ef_softmax_f32(const ef_softmax_params *p, const float *x, float *y)
{
    int32_t o, in, i;
    const int32_t L = p->axis_len, S = p->inner;
    for (o = 0; o < p->outer; ++o) {
        for (in = 0; in < S; ++in) {
            const float *xr = x + (size_t)o * L * S + in;
            float *yr = y + (size_t)o * L * S + in;
            float mx = -INFINITY, sum = 0.0f;
            for (i = 0; i < L; ++i) if (xr[i * S] > mx) mx = xr[i * S];
            for (i = 0; i < L; ++i) sum += expf(xr[i * S] - mx); /* max-shifted: no overflow */
            if (p->log) {
                const float ls = logf(sum);
                for (i = 0; i < L; ++i) yr[i * S] = xr[i * S] - mx - ls;
            } else {
                for (i = 0; i < L; ++i) yr[i * S] = expf(xr[i * S] - mx) / sum;
            }
        }
    }
    return EF_OK;
}

/* One row when scale (and bias) cover exactly the row: the arithmetic of the general loop
 * below, in the same order, with pointer walks instead of a modulo per element. */
static void ef_layernorm_row(const float *xr, const float *scale, const float *bias, float *yr,
                             int32_t D, float eps, float *mean_o, float *inv_o)
{
    float mean = 0.0f, var = 0.0f, inv;
    int32_t i;
    for (i = 0; i < D; ++i) mean += xr[i];
    mean /= (float)D;
    for (i = 0; i < D; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= (float)D;
    inv = 1.0f / sqrtf(var + eps);
    if (bias)
        for (i = 0; i < D; ++i) yr[i] = (xr[i] - mean) * inv * scale[i] + bias[i];
    else
        for (i = 0; i < D; ++i) yr[i] = (xr[i] - mean) * inv * scale[i];
    *mean_o = mean;
    *inv_o = inv;
}

int ef_layernorm_f32(const ef_layernorm_params *p, const float *x, const float *scale,
                     const float *bias, float *y, float *mean_out, float *inv_std_out)
{
    int32_t o, i;
    const int32_t D = p->size;
    const int row = p->scale_period == D && (!bias || p->bias_period == D);
    for (o = 0; o < p->outer; ++o) {
        const float *xr = x + (size_t)o * D;
        float *yr = y + (size_t)o * D;
        float mean = 0.0f, var = 0.0f, inv;
        if (row) {
            ef_layernorm_row(xr, scale, bias, yr, D, p->epsilon, &mean, &inv);
        } else {
            for (i = 0; i < D; ++i) mean += xr[i];
            mean /= (float)D;
            for (i = 0; i < D; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            var /= (float)D;
            inv = 1.0f / sqrtf(var + p->epsilon);
            for (i = 0; i < D; ++i) {
                const int32_t gi = ((size_t)o * D + i) % p->scale_period;
                float v = (xr[i] - mean) * inv * scale[gi];
                if (bias) v += bias[((size_t)o * D + i) % p->bias_period];
                yr[i] = v;
            }
        }
        if (mean_out) mean_out[o] = mean;
        if (inv_std_out) inv_std_out[o] = inv;
    }
    return EF_OK;
}

int ef_batchnorm_f32(const ef_batchnorm_params *p, const float *x, const float *scale,
                     const float *bias, const float *mean, const float *var, float *y)
{
    int32_t b, c, i;
    for (b = 0; b < p->n; ++b) {
        for (c = 0; c < p->c; ++c) {
            const float k = scale[c] / sqrtf(var[c] + p->epsilon);
            const size_t base = ((size_t)b * p->c + c) * p->spatial;
            for (i = 0; i < p->spatial; ++i) y[base + i] = (x[base + i] - mean[c]) * k + bias[c];
        }
    }
    return EF_OK;
}

int ef_reduce_f32(const ef_reduce_params *p, const float *x, float *y)
{
    const int32_t n_out = ef_numel(p->rank, p->out_shape);
    const int32_t n_red = ef_numel(p->rank, p->red_shape);
    int32_t i, j;
    ef_iter out;
    if (p->op < EF_RED_SUM || p->op > EF_RED_LOG_SUM_EXP) return EF_ERR_PARAM;
    if (p->rank == 1 && (p->op == EF_RED_SUM || p->op == EF_RED_MEAN)) {
        /* one dim each: the loop below without the odometer, same order of additions */
        const int32_t so = p->out_stride[0], sr = p->red_stride[0];
        for (i = 0; i < n_out; ++i) {
            const float *xb = x + (size_t)i * so;
            float acc = 0.0f;
            for (j = 0; j < n_red; ++j, xb += sr) acc += *xb;
            y[i] = p->op == EF_RED_MEAN ? acc / (float)n_red : acc;
        }
        return EF_OK;
    }
    ef_iter_init(&out, p->rank);
    for (i = 0; i < n_out; ++i) {
        const float *xb = x + out.off[0];
        float acc, mx = -INFINITY;
        ef_iter red;
        if (p->op == EF_RED_LOG_SUM_EXP) { /* max pass keeps exp() in range */
            ef_iter_init(&red, p->rank);
            for (j = 0; j < n_red; ++j) {
                if (xb[red.off[0]] > mx) mx = xb[red.off[0]];
                ef_iter_next(&red, p->red_shape, p->red_stride, NULL, NULL);
            }
            if (n_red == 0 || mx == -INFINITY) mx = 0.0f;
        }
        acc = p->op == EF_RED_MAX ? -INFINITY : p->op == EF_RED_MIN ? INFINITY
            : p->op == EF_RED_PROD ? 1.0f : 0.0f;
        ef_iter_init(&red, p->rank);
        for (j = 0; j < n_red; ++j) {
            const float v = xb[red.off[0]];
            switch (p->op) {
            case EF_RED_MAX: if (v > acc || v != v) acc = v; break;
            case EF_RED_MIN: if (v < acc || v != v) acc = v; break;
            case EF_RED_PROD: acc *= v; break;
            case EF_RED_SUM_SQUARE: case EF_RED_L2: acc += v * v; break;
            case EF_RED_L1: acc += fabsf(v); break;
            case EF_RED_LOG_SUM_EXP: acc += expf(v - mx); break;
            default: acc += v; break;
            }
            ef_iter_next(&red, p->red_shape, p->red_stride, NULL, NULL);
        }
        if (p->op == EF_RED_MEAN) acc /= (float)n_red;
        else if (p->op == EF_RED_L2) acc = sqrtf(acc);
        else if (p->op == EF_RED_LOG_SUM) acc = logf(acc);
        else if (p->op == EF_RED_LOG_SUM_EXP) acc = logf(acc) + mx;
        y[i] = acc;
        ef_iter_next(&out, p->out_shape, p->out_stride, NULL, NULL);
    }
    return EF_OK;
}
