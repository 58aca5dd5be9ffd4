/* Shared helpers of the fast float32 kernels (ef_f32_fast.c): the 16-column FMA
 * microkernels and bounded approximations of exp and erf.
 *
 * Microkernels: acc[0..15] += sum over q < k of x[q] * w_q[0..15], q in order 0..k-1, one
 * fused multiply-add per MAC (fmaf, bit for bit what VFMA.F32 gives). On cores with an FPU
 * and VFMA (Cortex-M4F/M7/M33/M55) one asm block keeps the 16 accumulators in s16-s31 and
 * loads x (8 at a time) and w (8 at a time) with VLDM: 16 MACs cost 18 instructions
 * (packed w) or 19 (strided w). Elsewhere the same arithmetic in portable C. */
#ifndef EF_F32_FAST_H
#define EF_F32_FAST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_FEATURE_FMA)
#define EF_F32_ASM 1
#else
#define EF_F32_ASM 0
#endif

#if EF_F32_ASM
#define EF_FMA8(xs, a0, a1, a2, a3, a4, a5, a6, a7)                                   \
    "vfma.f32 s" #a0 ", " xs ", s8\n\t"  "vfma.f32 s" #a1 ", " xs ", s9\n\t"        \
    "vfma.f32 s" #a2 ", " xs ", s10\n\t" "vfma.f32 s" #a3 ", " xs ", s11\n\t"       \
    "vfma.f32 s" #a4 ", " xs ", s12\n\t" "vfma.f32 s" #a5 ", " xs ", s13\n\t"       \
    "vfma.f32 s" #a6 ", " xs ", s14\n\t" "vfma.f32 s" #a7 ", " xs ", s15\n\t"
/* One q of the packed layout: w advances 16 floats. */
#define EF_QP(xs)                                                                     \
    "vldmia %[w]!, {s8-s15}\n\t" EF_FMA8(xs, 16, 17, 18, 19, 20, 21, 22, 23)          \
    "vldmia %[w]!, {s8-s15}\n\t" EF_FMA8(xs, 24, 25, 26, 27, 28, 29, 30, 31)
/* One q of a row-major B: w advances one row (%[ws] bytes, the 32 of the first VLDM
 * already taken off). */
#define EF_QS(xs)                                                                     \
    "vldmia %[w]!, {s8-s15}\n\t" EF_FMA8(xs, 16, 17, 18, 19, 20, 21, 22, 23)          \
    "vldmia %[w], {s8-s15}\n\t" EF_FMA8(xs, 24, 25, 26, 27, 28, 29, 30, 31)           \
    "add %[w], %[w], %[ws]\n\t"
#define EF_F32_CLOBBER                                                                \
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",  \
    "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23",      \
    "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31", "cc", "memory"
#define EF_F32_KERNEL(STEP)                                                           \
    "vldmia %[init], {s16-s31}\n\t"                                                   \
    "cmp %[k8], #0\n\t"                                                               \
    "beq 2f\n"                                                                        \
    "1:\n\t"                                                                          \
    "vldmia %[x]!, {s0-s7}\n\t"                                                       \
    STEP("s0") STEP("s1") STEP("s2") STEP("s3") STEP("s4") STEP("s5") STEP("s6")      \
    STEP("s7")                                                                        \
    "subs %[k8], %[k8], #1\n\t"                                                       \
    "bne 1b\n"                                                                        \
    "2:\n\t"                                                                          \
    "cmp %[kr], #0\n\t"                                                               \
    "beq 4f\n"                                                                        \
    "3:\n\t"                                                                          \
    "vldmia %[x]!, {s0}\n\t"                                                          \
    STEP("s0")                                                                        \
    "subs %[kr], %[kr], #1\n\t"                                                       \
    "bne 3b\n"                                                                        \
    "4:\n\t"                                                                          \
    "vstmia %[out], {s16-s31}\n\t"
#endif

/* out[j] = init[j] + sum_q x[q] * w[16 q + j], j < 16, accumulated in q order: w packed
 * 16 floats per q. out may be init. */
static inline void ef_acc16_packed(float *out, const float *init, const float *x, const float *w,
                                   int32_t k)
{
#if EF_F32_ASM
    int32_t k8 = k >> 3, kr = k & 7;
    __asm__ volatile(EF_F32_KERNEL(EF_QP)
                     : [x] "+r"(x), [w] "+r"(w), [k8] "+r"(k8), [kr] "+r"(kr)
                     : [out] "r"(out), [init] "r"(init)
                     : EF_F32_CLOBBER);
#else
    float acc[16];
    int32_t q, j;
    for (j = 0; j < 16; ++j) acc[j] = init[j];
    for (q = 0; q < k; ++q, w += 16)
        for (j = 0; j < 16; ++j) acc[j] = fmaf(x[q], w[j], acc[j]);
    for (j = 0; j < 16; ++j) out[j] = acc[j];
#endif
}

/* out[j] = init[j] + sum_q x[q] * b[q * ldb + j], j < 16: b row-major, ldb floats a row. */
static inline void ef_acc16_strided(float *out, const float *init, const float *x,
                                    const float *b, int32_t k, int32_t ldb)
{
#if EF_F32_ASM
    int32_t k8 = k >> 3, kr = k & 7;
    const int32_t ws = ldb * 4 - 32;
    __asm__ volatile(EF_F32_KERNEL(EF_QS)
                     : [x] "+r"(x), [w] "+r"(b), [k8] "+r"(k8), [kr] "+r"(kr)
                     : [out] "r"(out), [init] "r"(init), [ws] "r"(ws)
                     : EF_F32_CLOBBER);
#else
    float acc[16];
    int32_t q, j;
    for (j = 0; j < 16; ++j) acc[j] = init[j];
    for (q = 0; q < k; ++q, b += ldb)
        for (j = 0; j < 16; ++j) acc[j] = fmaf(x[q], b[j], acc[j]);
    for (j = 0; j < 16; ++j) out[j] = acc[j];
#endif
}

/* out[j] = init[j] + sum_q x[q] * b[q * ldb + j] for j < r (r < 16 columns left over):
 * portable C, the same arithmetic. */
static inline void ef_acc_tail(float *out, const float *init, int32_t r, const float *x,
                               const float *b, int32_t k, int32_t ldb)
{
    float acc[16];
    int32_t q, j;
    for (j = 0; j < r; ++j) acc[j] = init[j];
    for (q = 0; q < k; ++q, b += ldb)
        for (j = 0; j < r; ++j) acc[j] = fmaf(x[q], b[j], acc[j]);
    for (j = 0; j < r; ++j) out[j] = acc[j];
}

static inline float ef_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* exp(x) for x <= 0 (softmax after the max shift); 0 below -87.3 (and for -inf), NaN stays
 * NaN. n = round(x / ln 2), r = x - n ln 2 in two steps (Cody-Waite: n * LN2_HI is exact),
 * |r| <= 0.35, exp(r) by its degree-7 Taylor polynomial (remainder < 5.3e-9), 2^n put into
 * the exponent field. Maximum relative error against float64 exp on [-87.3, 0]: 1.5e-7
 * (measured 9.1e-8; EXP_REL in tests/unit/test_kernels_f32.py). */
static inline float ef_exp_neg(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n, r, p;
    int32_t ni;
    if (x < -87.3f) return 0.0f;
    n = (x * 1.44269504088896341f + magic) - magic;
    r = fmaf(n, 2.12194440e-4f, x - n * 0.693359375f); /* n * LN2_HI: exact */
    ni = (int32_t)n;
    p = 1.9841269841e-4f;
    p = fmaf(p, r, 1.3888888889e-3f);
    p = fmaf(p, r, 8.3333333333e-3f);
    p = fmaf(p, r, 4.1666666667e-2f);
    p = fmaf(p, r, 1.6666666667e-1f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    return p * ef_f32_from_bits((uint32_t)(ni + 127) << 23);
}

/* erf(x): x P(x^2) / Q(x^2) on [-4, 4] (Eigen's float rational approximation), +-1 beyond.
 * Maximum absolute error against float64 erf: 3.5e-7 (measured 2.9e-7 on [-6, 6]; ERF_ABS in
 * tests/unit/test_kernels_f32.py), relative error near 0 below 1e-6. NaN stays NaN. */
static inline float ef_erf_fast(float x)
{
    float c = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x), x2, p, q;
    if (x != x) return x;
    x2 = c * c;
    p = -2.72614225801306e-10f;
    p = fmaf(p, x2, 2.77068142495902e-08f);
    p = fmaf(p, x2, -2.10102402082508e-06f);
    p = fmaf(p, x2, -5.69250639462346e-05f);
    p = fmaf(p, x2, -7.34990630326855e-04f);
    p = fmaf(p, x2, -2.95459980854025e-03f);
    p = fmaf(p, x2, -1.60960333262415e-02f);
    q = -1.45660718464996e-05f;
    q = fmaf(q, x2, -2.13374055278905e-04f);
    q = fmaf(q, x2, -1.68282697438203e-03f);
    q = fmaf(q, x2, -7.37332916720468e-03f);
    q = fmaf(q, x2, -1.42647390514189e-02f);
    return c * p / q;
}

#endif /* EF_F32_FAST_H */
