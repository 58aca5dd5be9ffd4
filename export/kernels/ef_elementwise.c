/* Elementwise float32 kernels: broadcasting binary ops, comparisons, unary maps, where, cast. */
#include <math.h>
#include <string.h>

#include "ef_iter.h"

static float ef_bin(int32_t op, float a, float b)
{
    switch (op) {
    case EF_BIN_ADD: return a + b;
    case EF_BIN_SUB: return a - b;
    case EF_BIN_MUL: return a * b;
    case EF_BIN_DIV: return a / b;
    case EF_BIN_POW: return powf(a, b);
    case EF_BIN_MAX: return (a != a || b != b) ? NAN : (a > b ? a : b);
    case EF_BIN_MIN: return (a != a || b != b) ? NAN : (a < b ? a : b);
    case EF_BIN_FMOD: return fmodf(a, b);
    case EF_BIN_PRELU: return a < 0.0f ? a * b : a;
    default: return 0.0f;
    }
}

/* Dense fast path of ef_binary_f32: one dim, each side contiguous (stride 1) or a scalar
 * (stride 0), + - * /. The same IEEE operations in the same order, so bit for bit the
 * general loop. On FPU cores 8 elements per VLDM/VSTM. */
#if defined(__ARM_FP) && (__ARM_FP & 4)
#define EF_BIN_ASM 1
#define EF_R8(op, f)                                                                      \
    op " " f(0) "\n\t" op " " f(1) "\n\t" op " " f(2) "\n\t" op " " f(3) "\n\t"              \
    op " " f(4) "\n\t" op " " f(5) "\n\t" op " " f(6) "\n\t" op " " f(7) "\n\t"
#define EF_LOOP_TAIL "vstmia %[y]!, {s0-s7}\n\tsubs %[n], %[n], #1\n\tbne 1b\n\t"
#define EF_BIN_CLOBBER                                                                    \
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",      \
    "s13", "s14", "s15", "cc", "memory"
#define EF_AV(i) "s" #i ", s" #i ", s8"     /* a[i] op scalar b */
#define EF_VA(i) "s" #i ", s8, s" #i        /* scalar a op b[i] */
#define EF_BIN8_FN(name, op)                                                              \
    static void name(const float *a, const float *b, float *y, int32_t n8, int kind)     \
    {                                                                                     \
        if (kind == 0)                                                                    \
            __asm__ volatile("1:\n\tvldmia %[a]!, {s0-s7}\n\tvldmia %[b]!, {s8-s15}\n\t"    \
                             op " s0, s0, s8\n\t" op " s1, s1, s9\n\t"                     \
                             op " s2, s2, s10\n\t" op " s3, s3, s11\n\t"                   \
                             op " s4, s4, s12\n\t" op " s5, s5, s13\n\t"                   \
                             op " s6, s6, s14\n\t" op " s7, s7, s15\n\t" EF_LOOP_TAIL     \
                             : [a] "+r"(a), [b] "+r"(b), [y] "+r"(y), [n] "+r"(n8)        \
                             : : EF_BIN_CLOBBER);                                         \
        else if (kind == 1)                                                               \
            __asm__ volatile("vldr s8, [%[b]]\n1:\n\tvldmia %[a]!, {s0-s7}\n\t"          \
                             EF_R8(op, EF_AV) EF_LOOP_TAIL                                \
                             : [a] "+r"(a), [y] "+r"(y), [n] "+r"(n8)                     \
                             : [b] "r"(b) : EF_BIN_CLOBBER);                              \
        else                                                                              \
            __asm__ volatile("vldr s8, [%[a]]\n1:\n\tvldmia %[b]!, {s0-s7}\n\t"          \
                             EF_R8(op, EF_VA) EF_LOOP_TAIL                                \
                             : [b] "+r"(b), [y] "+r"(y), [n] "+r"(n8)                     \
                             : [a] "r"(a) : EF_BIN_CLOBBER);                              \
    }
EF_BIN8_FN(ef_bin8_add, "vadd.f32")
EF_BIN8_FN(ef_bin8_sub, "vsub.f32")
EF_BIN8_FN(ef_bin8_mul, "vmul.f32")
EF_BIN8_FN(ef_bin8_div, "vdiv.f32")
#else
#define EF_BIN_ASM 0
#endif

/* kind 0: both contiguous, 1: b scalar, 2: a scalar. Returns 0 when not covered. */
static int ef_binary_dense(int32_t op, int kind, const float *a, const float *b, float *y,
                           int32_t n)
{
    const int32_t sa = kind == 2 ? 0 : 1, sb = kind == 1 ? 0 : 1;
    int32_t i = 0;
    if (op > EF_BIN_DIV) return 0;
#if EF_BIN_ASM
    if (n >= 8) {
        static void (*const fn[4])(const float *, const float *, float *, int32_t, int) = {
            ef_bin8_add, ef_bin8_sub, ef_bin8_mul, ef_bin8_div};
        fn[op](a, b, y, n >> 3, kind);
        i = n & ~7;
    }
#endif
    for (; i < n; ++i) {
        const float u = a[i * sa], v = b[i * sb];
        y[i] = op == EF_BIN_ADD ? u + v : op == EF_BIN_SUB ? u - v : op == EF_BIN_MUL ? u * v : u / v;
    }
    return 1;
}

int ef_binary_f32(const ef_binary_params *p, const float *a, const float *b, float *y)
{
    int32_t i, n = ef_numel(p->rank, p->shape);
    ef_iter it;
    if (p->op > EF_BIN_PRELU) return EF_ERR_PARAM;
    if (p->rank == 1 && (p->a_stride[0] | p->b_stride[0]) == 1 &&
        ef_binary_dense(p->op, p->b_stride[0] == 0 ? 1 : p->a_stride[0] == 0 ? 2 : 0, a, b, y, n))
        return EF_OK;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        y[i] = ef_bin(p->op, a[it.off[0]], b[it.off[1]]);
        ef_iter_next(&it, p->shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

int ef_compare_f32(const ef_binary_params *p, const float *a, const float *b, uint8_t *y)
{
    int32_t i, n = ef_numel(p->rank, p->shape);
    ef_iter it;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        float u = a[it.off[0]], v = b[it.off[1]];
        int r;
        switch (p->op) {
        case EF_CMP_GREATER: r = u > v; break;
        case EF_CMP_LESS: r = u < v; break;
        case EF_CMP_EQUAL: r = u == v; break;
        case EF_CMP_GREATER_EQ: r = u >= v; break;
        case EF_CMP_LESS_EQ: r = u <= v; break;
        default: return EF_ERR_PARAM;
        }
        y[i] = (uint8_t)r;
        ef_iter_next(&it, p->shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

int ef_logical_u8(const ef_binary_params *p, const uint8_t *a, const uint8_t *b, uint8_t *y)
{
    int32_t i, n = ef_numel(p->rank, p->shape);
    ef_iter it;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        int u = a[it.off[0]] != 0, v = b[it.off[1]] != 0, r;
        switch (p->op) {
        case EF_LOG_AND: r = u && v; break;
        case EF_LOG_OR: r = u || v; break;
        case EF_LOG_XOR: r = u != v; break;
        default: return EF_ERR_PARAM;
        }
        y[i] = (uint8_t)r;
        ef_iter_next(&it, p->shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

int ef_not_u8(int32_t n, const uint8_t *x, uint8_t *y)
{
    int32_t i;
    for (i = 0; i < n; ++i) y[i] = (uint8_t)(x[i] == 0);
    return EF_OK;
}

static float ef_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static float ef_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

static float ef_un(const ef_unary_params *p, float x)
{
    const float a = p->alpha, b = p->beta;
    switch (p->op) {
    case EF_UN_RELU: return x > 0.0f ? x : 0.0f;
    case EF_UN_SIGMOID: return ef_sigmoid(x);
    case EF_UN_TANH: return tanhf(x);
    case EF_UN_ERF: return erff(x);
    case EF_UN_EXP: return expf(x);
    case EF_UN_LOG: return logf(x);
    case EF_UN_SQRT: return sqrtf(x);
    case EF_UN_NEG: return -x;
    case EF_UN_ABS: return fabsf(x);
    case EF_UN_RECIPROCAL: return 1.0f / x;
    case EF_UN_LEAKY_RELU: return x < 0.0f ? a * x : x;
    case EF_UN_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case EF_UN_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case EF_UN_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a * x + b));
    case EF_UN_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case EF_UN_SOFTPLUS: return ef_softplus(x);
    case EF_UN_SOFTSIGN: return x / (1.0f + fabsf(x));
    case EF_UN_CLIP: return fminf(fmaxf(x, a), b); /* min > max gives max, as ONNX says */
    case EF_UN_ELU: return x < 0.0f ? a * (expf(x) - 1.0f) : x;
    case EF_UN_SELU: return x <= 0.0f ? b * (a * expf(x) - a) : b * x;
    case EF_UN_CELU: return fmaxf(0.0f, x) + fminf(0.0f, a * (expf(x / a) - 1.0f));
    case EF_UN_FLOOR: return floorf(x);
    case EF_UN_CEIL: return ceilf(x);
    case EF_UN_ROUND: return rintf(x); /* default rounding mode: half to even */
    case EF_UN_SIN: return sinf(x);
    case EF_UN_COS: return cosf(x);
    case EF_UN_TAN: return tanf(x);
    case EF_UN_ASIN: return asinf(x);
    case EF_UN_ACOS: return acosf(x);
    case EF_UN_ATAN: return atanf(x);
    case EF_UN_SINH: return sinhf(x);
    case EF_UN_COSH: return coshf(x);
    case EF_UN_ASINH: return asinhf(x);
    case EF_UN_ACOSH: return acoshf(x);
    case EF_UN_ATANH: return atanhf(x);
    case EF_UN_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case EF_UN_MISH: return x * tanhf(ef_softplus(x));
    case EF_UN_THRESHOLDED_RELU: return x > a ? x : 0.0f;
    case EF_UN_AFFINE: return a * x + b;
    case EF_UN_SWISH: return x * ef_sigmoid(a * x);
    case EF_UN_SHRINK: return x < -a ? x + b : (x > a ? x - b : 0.0f);
    default: return x;
    }
}

int ef_unary_f32(const ef_unary_params *p, const float *x, float *y)
{
    int32_t i;
    if (p->op < 0 || p->op > EF_UN_SHRINK) return EF_ERR_PARAM;
    for (i = 0; i < p->n; ++i) y[i] = ef_un(p, x[i]);
    return EF_OK;
}

int ef_where_any(const ef_where_params *p, const uint8_t *cond, const void *a, const void *b,
                 void *y)
{
    int32_t i, n = ef_numel(p->rank, p->shape), es = p->elem_size;
    const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
    uint8_t *py = (uint8_t *)y;
    ef_iter it;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        const uint8_t *src = cond[it.off[0]] ? pa + (size_t)it.off[1] * es
                                             : pb + (size_t)it.off[2] * es;
        memcpy(py + (size_t)i * es, src, (size_t)es);
        ef_iter_next(&it, p->shape, p->c_stride, p->a_stride, p->b_stride);
    }
    return EF_OK;
}

/* Cast goes through double (exact for every supported source type) then to the target. */
static double ef_load(int32_t dt, const void *x, int32_t i)
{
    switch (dt) {
    case EF_DT_F32: return ((const float *)x)[i];
    case EF_DT_I8: return ((const int8_t *)x)[i];
    case EF_DT_U8: return ((const uint8_t *)x)[i];
    case EF_DT_I16: return ((const int16_t *)x)[i];
    case EF_DT_I32: return ((const int32_t *)x)[i];
    case EF_DT_I64: return (double)((const int64_t *)x)[i];
    case EF_DT_BOOL: return ((const uint8_t *)x)[i] != 0;
    default: return 0.0;
    }
}

int ef_cast_any(const ef_cast_params *p, const void *x, void *y)
{
    int32_t i;
    if (p->from == EF_DT_I64 && p->to == EF_DT_I64) return ef_copy_any(p->n * 8, x, y);
    for (i = 0; i < p->n; ++i) {
        double v = ef_load(p->from, x, i);
        switch (p->to) {
        case EF_DT_F32: ((float *)y)[i] = (float)v; break;
        case EF_DT_I8: ((int8_t *)y)[i] = (int8_t)(int32_t)v; break;
        case EF_DT_U8: ((uint8_t *)y)[i] = (uint8_t)(int32_t)v; break;
        case EF_DT_I16: ((int16_t *)y)[i] = (int16_t)(int32_t)v; break;
        case EF_DT_I32: ((int32_t *)y)[i] = (int32_t)v; break;
        case EF_DT_I64: ((int64_t *)y)[i] = (int64_t)v; break;
        case EF_DT_BOOL: ((uint8_t *)y)[i] = (uint8_t)(v != 0.0); break;
        default: return EF_ERR_PARAM;
        }
    }
    return EF_OK;
}
