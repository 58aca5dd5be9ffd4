/* Helium (MVE, Cortex-M55) inner loops of the fast int8 kernels (ef_mve.c). ef_qfc.c and
 * ef_qaa.c call them when the compiler targets MVE (EF_MVE); elsewhere this header declares
 * nothing and ef_mve.c compiles to nothing. Each computes the same integer sums as the
 * scalar loop it replaces, so the kernels stay bit-exact to the reference. */
#ifndef EF_MVE_H
#define EF_MVE_H

#include <stdint.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define EF_MVE 1

/* acc[j] += the dot of output j's packed int16 weights (ef_kernels.h: per 4 k, 8 words for a
 * block of 4 outputs) with the widened row xp (ef_qfc.c: 2 words per 4 k), over kc chunks. */
void ef_mve_fc_block(const int32_t *xp, const int32_t *wp, int32_t kc, int32_t *acc);

/* sum_q a16[q] * b[q] for q < k: a16 int16 (a - a_zp), b int8 (a row of bᵀ), any k. */
int32_t ef_mve_dot_s16_s8(const int16_t *a16, const int8_t *b, int32_t k, int32_t acc);
#else
#define EF_MVE 0
#endif

#endif /* EF_MVE_H */
