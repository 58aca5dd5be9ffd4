/* Fast int8 row kernels, bit-exact to the references in ef_qint8.c: the same float
 * operations on the same values in the same order, minus the overhead around them.
 * Softmax reads its exponentials from the node's table (row max in int8, no expf). LayerNorm
 * fuses dequantise with the mean sum. Quantising uses ef_q8_t (no libm rintf on M4). */
#include "ef_kernels.h"
#include "ef_mve.h"
#include "ef_qfast.h"

int ef_lut_s8(const ef_lut_params *p, const int8_t *x, const int8_t *table, int8_t *y)
{
#if EF_MVE
    ef_mve_lut(x, table, p->n, y);
#else
    const int8_t *t = table + 128; /* indexed by the signed byte itself */
    int32_t i = 0;
    for (; i + 4 <= p->n; i += 4) {
        const int8_t a = t[x[i]], b = t[x[i + 1]], c = t[x[i + 2]], d = t[x[i + 3]];
        y[i] = a, y[i + 1] = b, y[i + 2] = c, y[i + 3] = d;
    }
    for (; i < p->n; ++i) y[i] = t[x[i]];
#endif
    return EF_OK;
}

int ef_qbinary_s8(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const float as = p->a_scale, bs = p->b_scale, ys = p->y_scale;
    const int32_t n = p->shape[0], sa = p->a_stride[0], sb = p->b_stride[0];
    const int32_t azp = p->a_zp, bzp = p->b_zp, yzp = p->y_zp;
    int32_t i;
#if EF_MVE_FP
    if (ef_mve_qadd_p(p, a, b, y)) return EF_OK;   /* the residual add in one call (ef_mve.c) */
#endif
    if (p->rank != 1 || p->op < EF_QBIN_ADD || p->op > EF_QBIN_MUL)
        return ef_qbinary_s8_ref(p, a, b, y);
    if (p->op == EF_QBIN_ADD && sa == 1 && sb == 1) { /* the residual add: dense, no switch */
        i = 0;
#if EF_MVE_FP
        if (n >= 4) {
            ef_mve_qadd(a, b, n / 4, azp, as, bzp, bs, ys, yzp, y);
            i = n & ~3;
        }
#endif
        for (; i + 2 <= n; i += 2) {
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

#if EF_DSP && defined(__ARM_FP) && !EF_MVE_FP
/* t[-x] of one int8 byte of w (its bits [8e, 8e + 8)) into s<e>, added to the sum. */
#define EF_SM_TERM(e, ror)                                                  \
    "sxtb %[i], %[w]" ror "\n\t"                                            \
    "sub %[i], %[t], %[i], lsl #2\n\t"                                      \
    "vldr s" e ", [%[i]]\n\t"                                               \
    "vadd.f32 %[sum], %[sum], s" e "\n\t"

/* n4 * 4 exponentials t[-x] into e[] and their sum in index order (the reference's): per 4
 * values one LDR, per value SXTB, the address, VLDR, VADD, then one VSTM. */
static float ef_sm_exps4(const int8_t *x, const float *t, int32_t n4, float *e)
{
    float sum = 0.0f;
    int32_t w, i;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[w], [%[x]], #4\n\t"
        EF_SM_TERM("0", "") EF_SM_TERM("1", ", ror #8")
        EF_SM_TERM("2", ", ror #16") EF_SM_TERM("3", ", ror #24")
        "vstmia %[e]!, {s0-s3}\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [x] "+r"(x), [e] "+r"(e), [n] "+r"(n4), [sum] "+t"(sum), [w] "=&r"(w), [i] "=&r"(i)
        : [t] "r"(t)
        : "s0", "s1", "s2", "s3", "cc", "memory");
    return sum;
}

/* y = q8((e / sum) / ys) + zp for n4 * 4 values: per 4 one VLDM, per value 7 instructions. */
#define EF_SM_OUT(e)                                                        \
    "vdiv.f32 s" e ", s" e ", %[sum]\n\t"                                   \
    "vdiv.f32 s" e ", s" e ", %[ys]\n\t"                                    \
    "vcvtr.s32.f32 s" e ", s" e "\n\t"                                      \
    "vmov %[q], s" e "\n\t"                                                 \
    "qadd %[q], %[q], %[zp]\n\t"                                            \
    "ssat %[q], #8, %[q]\n\t"                                               \
    "strb %[q], [%[y]], #1\n\t"

static void ef_sm_out4(const float *e, int32_t n4, float sum, float ys, int32_t zp, int8_t *y)
{
    int32_t q;
    __asm__ volatile(
        "1:\n\t"
        "vldmia %[e]!, {s0-s3}\n\t"
        EF_SM_OUT("0") EF_SM_OUT("1") EF_SM_OUT("2") EF_SM_OUT("3")
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [e] "+r"(e), [n] "+r"(n4), [y] "+r"(y), [q] "=&r"(q)
        : [sum] "t"(sum), [ys] "t"(ys), [zp] "r"(zp)
        : "s0", "s1", "s2", "s3", "cc", "memory");
}
#define EF_SM_ASM 1
#else
#define EF_SM_ASM 0
#endif

int ef_qsoftmax_s8(const ef_qsoftmax_params *p, const int8_t *x, const float *exp_table,
                   int8_t *y, float *scratch)
{
    const int32_t n = p->row, yzp = p->y_zp;
    const float ys = p->y_scale;
    int32_t r, i;
#if EF_MVE_FP
    if (ef_mve_sm_rows(p, x, exp_table, y, scratch)) return EF_OK;   /* every row in one call (ef_mve.c) */
#endif
    if (n < 1 || p->x_scale * p->pre_scale < 0.0f)
        return ef_qsoftmax_s8_ref(p, x, exp_table, y, scratch);
    for (r = 0; r < p->rows; ++r, x += n, y += n) {
        const float *t;
        int32_t top = x[0];
        float sum = 0.0f;
        i = 1;
#if EF_MVE_FP
        if (n >= 16 && !(n & 3)) {   /* the whole row in one call (ef_mve.c) */
            ef_mve_sm_row(x, exp_table, n, ys, yzp, scratch, y);
            continue;
        }
#endif
#if EF_MVE
        if (n >= 16) top = ef_mve_max_s8(x, n), i = n;
#elif EF_DSP
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
#if EF_MVE_FP
        if (!(n & 3)) { /* through scratch, 4 lanes at a time where the order allows */
            sum = ef_mve_sm_exps(x, exp_table, top, n / 4, scratch);
            ef_mve_sm_out(scratch, n / 4, sum, ys, yzp, y);
            continue;
        }
#elif EF_SM_ASM
        if (!(n & 3)) { /* through scratch: each exponential looked up once */
            sum = ef_sm_exps4(x, t, n / 4, scratch);
            ef_sm_out4(scratch, n / 4, sum, ys, yzp, y);
            continue;
        }
#endif
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

#if EF_DSP && defined(__ARM_FP) && !EF_MVE_FP
/* sum over n4 * 4 values of (v - mean)^2, in index order (the reference's float sum):
 * VLDM of 4 values, then VSUB, VMUL, VADD each. */
static float ef_ln_var4(const float *v, int32_t n4, float mean)
{
    float var = 0.0f;
    __asm__ volatile(
        "1:\n\t"
        "vldmia %[v]!, {s0-s3}\n\t"
        "vsub.f32 s0, s0, %[m]\n\t" "vmul.f32 s0, s0, s0\n\t" "vadd.f32 %[var], %[var], s0\n\t"
        "vsub.f32 s1, s1, %[m]\n\t" "vmul.f32 s1, s1, s1\n\t" "vadd.f32 %[var], %[var], s1\n\t"
        "vsub.f32 s2, s2, %[m]\n\t" "vmul.f32 s2, s2, s2\n\t" "vadd.f32 %[var], %[var], s2\n\t"
        "vsub.f32 s3, s3, %[m]\n\t" "vmul.f32 s3, s3, s3\n\t" "vadd.f32 %[var], %[var], s3\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [v] "+r"(v), [n] "+r"(n4), [var] "+t"(var)
        : [m] "t"(mean)
        : "s0", "s1", "s2", "s3", "cc", "memory");
    return var;
}

/* One LayerNorm output: ((v - mean) * inv * gamma + beta) / ys, then VCVTR (ef_q8_t),
 * QADD of the zero point, SSAT, STRB; v, gamma, beta in s<e>, s<e+4>, s<e+8>. */
#define EF_LN_OUT(e, g, b)                                                  \
    "vsub.f32 s" e ", s" e ", %[m]\n\t"                                     \
    "vmul.f32 s" e ", s" e ", %[inv]\n\t"                                   \
    "vmul.f32 s" e ", s" e ", s" g "\n\t"                                   \
    "vadd.f32 s" e ", s" e ", s" b "\n\t"                                   \
    "vdiv.f32 s" e ", s" e ", %[ys]\n\t"                                    \
    "vcvtr.s32.f32 s" e ", s" e "\n\t"                                      \
    "vmov %[t], s" e "\n\t"                                                 \
    "qadd %[t], %[t], %[zp]\n\t"                                            \
    "ssat %[t], #8, %[t]\n\t"                                               \
    "strb %[t], [%[y]], #1\n\t"

/* The quantised LayerNorm outputs of n4 * 4 values: per 4, three VLDMs (values, gamma,
 * beta) and 10 instructions per output, the float operations of the C loop in its order. */
static void ef_ln_out4(const float *v, const float *gamma, const float *beta, int32_t n4,
                       float mean, float inv, float ys, int32_t zp, int8_t *y)
{
    int32_t t;
    __asm__ volatile(
        "1:\n\t"
        "vldmia %[v]!, {s0-s3}\n\t"
        "vldmia %[g]!, {s4-s7}\n\t"
        "vldmia %[b]!, {s8-s11}\n\t"
        EF_LN_OUT("0", "4", "8") EF_LN_OUT("1", "5", "9")
        EF_LN_OUT("2", "6", "10") EF_LN_OUT("3", "7", "11")
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [v] "+r"(v), [g] "+r"(gamma), [b] "+r"(beta), [n] "+r"(n4), [y] "+r"(y), [t] "=&r"(t)
        : [m] "t"(mean), [inv] "t"(inv), [ys] "t"(ys), [zp] "r"(zp)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "cc",
          "memory");
}
#define EF_LN_ASM 1
#else
#define EF_LN_ASM 0
#endif

/* One row's statistics, the reference's float operations in its order: scratch[i] =
 * DQ(x[i]), their mean, then inv = 1 / sqrt(var + eps). */
static float ef_ln_stats(const int8_t *x, int32_t d, int32_t zp, float xs, float eps,
                         float *scratch, float *inv)
{
    float mean = 0.0f, var = 0.0f;
    int32_t i;
    i = 0;
#if EF_MVE_FP
    if (d >= 4) {
        mean = ef_mve_ln_dq(x, d / 4, zp, xs, scratch, 0.0f);
        i = d & ~3;
    }
#endif
    /* unrolled by 4, every sum still in index order (same float results) */
    for (; i + 4 <= d; i += 4) {
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
    i = 0;
#if EF_MVE_FP
    if (d >= 4) {
        var = ef_mve_ln_var(scratch, d / 4, mean, 0.0f);
        i = d & ~3;
    }
#elif EF_LN_ASM
    if (d >= 4) {
        var = ef_ln_var4(scratch, d / 4, mean);
        i = d & ~3;
    }
#endif
    for (; i < d; ++i) {
        const float c = scratch[i] - mean;
        var += c * c;
    }
    var /= (float)d;
    *inv = 1.0f / sqrtf(var + eps);
    return mean;
}

/* pool_rows > 0: the LN rows of each group summed in float (acc = scratch + size, as the
 * reference keeps them), then the mean of the group quantised. */
static void ef_ln_pooled(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                         const float *beta, int8_t *y, float *scratch)
{
    const int32_t d = p->size, pool = p->pool_rows;
    float *acc = scratch + d;
    int32_t r, i;
    for (r = 0; r < p->rows; ++r, x += d) {
        float inv;
        const float mean = ef_ln_stats(x, d, p->x_zp, p->x_scale, p->epsilon, scratch, &inv);
        const int first = r % pool == 0;
#if EF_MVE_FP
        if (beta && !(d & 3)) {   /* 4 lanes at a time, the same operations (ef_mve.c) */
            ef_mve_ln_acc(scratch, gamma, beta, d / 4, mean, inv, first, acc);
            if (r % pool == pool - 1) {
                ef_mve_sm_out(acc, d / 4, (float)pool, p->y_scale, p->y_zp, y);
                y += d;
            }
            continue;
        }
#endif
        for (i = 0; i < d; ++i) {
            float v = (scratch[i] - mean) * inv * gamma[i];
            if (beta) v += beta[i];
            acc[i] = (first ? 0.0f : acc[i]) + v;
        }
        if (r % pool == pool - 1) {
            for (i = 0; i < d; ++i) y[i] = ef_q8_t((acc[i] / (float)pool) / p->y_scale, p->y_zp);
            y += d;
        }
    }
}

int ef_qlayernorm_s8(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                     const float *beta, int8_t *y, float *scratch)
{
    const int32_t d = p->size, yzp = p->y_zp;
    const float ys = p->y_scale;
    int32_t r, i;
#if EF_MVE_FP
    if (ef_mve_ln_rows(p, x, gamma, beta, y, scratch)) return EF_OK;   /* every row in one call (ef_mve.c) */
#endif
    if (p->pool_rows < 0 || (p->pool_rows > 0 && p->rows % p->pool_rows) || d < 1)
        return ef_qlayernorm_s8_ref(p, x, gamma, beta, y, scratch);
    if (p->pool_rows > 0) {
        ef_ln_pooled(p, x, gamma, beta, y, scratch);
        return EF_OK;
    }
    for (r = 0; r < p->rows; ++r, x += d, y += d) {
        float inv, mean;
#if EF_MVE_FP
        if (beta && d >= 4 && !(d & 3)) {   /* the whole row in one call (ef_mve.c) */
            ef_mve_ln_row(x, d, p->x_zp, p->x_scale, p->epsilon, gamma, beta, ys, yzp, scratch, y);
            continue;
        }
#endif
        mean = ef_ln_stats(x, d, p->x_zp, p->x_scale, p->epsilon, scratch, &inv);
        if (beta) {
            i = 0;
#if EF_MVE_FP
            if (d >= 4) {
                ef_mve_ln_out(scratch, gamma, beta, d / 4, mean, inv, ys, yzp, y);
                i = d & ~3;
            }
#elif EF_LN_ASM
            if (d >= 4) {
                ef_ln_out4(scratch, gamma, beta, d / 4, mean, inv, ys, yzp, y);
                i = d & ~3;
            }
#endif
            for (; i < d; ++i) y[i] = ef_q8_t(((scratch[i] - mean) * inv * gamma[i] + beta[i]) / ys, yzp);
        } else {
            for (i = 0; i < d; ++i) y[i] = ef_q8_t(((scratch[i] - mean) * inv * gamma[i]) / ys, yzp);
        }
    }
    return EF_OK;
}
