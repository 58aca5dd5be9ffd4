/* ef_qfc_v6m_s8: the fully-connected layer of ef_qfc_epi_s8 for cores without the DSP
 * extension (Armv6-M: Cortex-M0/M0+), bit-exact to it and so to ef_qmatmul_s8. Thumb-1 has
 * no SMLAD, no SXTB16 and no immediate-offset LDRSB, but LDRB with a 5-bit immediate and a
 * one-cycle MULS (on most M0+ parts): weights stored as w + 128 (uint8) and the row as
 * x + 128 (uint8, made once per row on the stack) make every load an immediate-offset LDRB,
 * and the offsets of the bias are undone by the folded bias and one per-row term.
 *
 * ws, one int32 stream (ops_qlinear.py, pack_v6m), per block of 4 outputs (n padded to 4):
 *   4 folded biases: bias - x_zp * sum_k w - 128 * sum_k w;
 *   kp / 8 chunks of 32 bytes: for outputs 0..3 in turn, their 8 weights + 128 (0 past k);
 *   4 records {mult, h, A, B} as ef_qfc_epi_s8's (ef_kernels.h).
 * p->kp == (k + 7) / 8 * 8 and k <= EF_QFC_KMAX (the row lives on the stack: k bytes). */
#ifndef EF_QFC_V6M_H
#define EF_QFC_V6M_H

#include "ef_kernels.h"

int ef_qfc_v6m_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y);

#endif /* EF_QFC_V6M_H */
