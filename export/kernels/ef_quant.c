/* (De)quantisation, per-tensor or per-axis: x viewed as (outer, axis_len, inner).
 * Quantize rounds half to even (rintf in the default rounding mode) and saturates. */
#include <math.h>

#include "ef_kernels.h"
#include "ef_mve.h"

#define EF_DEQUANT(NAME, TX)                                                               \
    int NAME(const ef_quant_params *p, const TX *x, const float *scale, const TX *zp,       \
             float *y)                                                                     \
    {                                                                                      \
        int32_t o, a, i;                                                                   \
        size_t k = 0;                                                                      \
        for (o = 0; o < p->outer; ++o)                                                     \
            for (a = 0; a < p->axis_len; ++a) {                                            \
                const int32_t z = zp ? (int32_t)zp[a] : 0;                                 \
                for (i = 0; i < p->inner; ++i, ++k)                                        \
                    y[k] = (float)((int32_t)x[k] - z) * scale[a];                          \
            }                                                                              \
        return EF_OK;                                                                      \
    }

EF_DEQUANT(ef_dequantize_s8_f32, int8_t)
EF_DEQUANT(ef_dequantize_u8_f32, uint8_t)
EF_DEQUANT(ef_dequantize_s32_f32, int32_t)

#define EF_QUANT(NAME, TY, LO, HI)                                                         \
    int NAME(const ef_quant_params *p, const float *x, const float *scale, const TY *zp,    \
             TY *y)                                                                        \
    {                                                                                      \
        int32_t o, a, i;                                                                   \
        size_t k = 0;                                                                      \
        for (o = 0; o < p->outer; ++o)                                                     \
            for (a = 0; a < p->axis_len; ++a) {                                            \
                const float z = zp ? (float)zp[a] : 0.0f;                                  \
                for (i = 0; i < p->inner; ++i, ++k) {                                      \
                    float v = rintf(x[k] / scale[a]) + z;                                  \
                    y[k] = (TY)(v < (LO) ? (LO) : (v > (HI) ? (HI) : v));                  \
                }                                                                          \
            }                                                                              \
        return EF_OK;                                                                      \
    }

#if EF_MVE_FP
/* Helium: one scale for the whole tensor, 4 lanes at a time (ef_mve.c, the same operations). */
static EF_QUANT(ef_quantize_f32_s8_c, int8_t, -128.0f, 127.0f)
int ef_quantize_f32_s8(const ef_quant_params *p, const float *x, const float *scale, const int8_t *zp, int8_t *y)
{
    if (p->axis_len != 1) return ef_quantize_f32_s8_c(p, x, scale, zp, y);
    ef_mve_quant_s8(x, p->outer * p->inner, scale[0], zp ? zp[0] : 0, y);
    return EF_OK;
}
#else
EF_QUANT(ef_quantize_f32_s8, int8_t, -128.0f, 127.0f)
#endif
EF_QUANT(ef_quantize_f32_u8, uint8_t, 0.0f, 255.0f)
