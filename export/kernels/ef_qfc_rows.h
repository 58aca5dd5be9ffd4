/* ef_qfc_rows_s8: the fully-connected layer of ef_qfc_epi_s8 on int8 weight rows, the layout
 * chosen for Helium (ops_qlinear.py, pack_rows): one VLDRB feeds 16 weights to VMLADAVA.S8.
 * Bit-exact to ef_qfc_epi_s8 (and so to ef_qmatmul_s8): the same folded biases, the same
 * proved all-integer epilogue, the same integer sums.
 *
 * ws, one int32 stream: a header word, two: 1 when the epilogue has its second stage (a
 * fused Add), else 0; then per block of 4 outputs (n padded to a multiple of 4):
 *   4 folded biases (bias - x_zp * sum_k w);
 *   kp / 16 chunks of 16 int8 weights per output, chunk by chunk: output 0's 16 bytes, then
 *   outputs 1, 2, 3 (kp: k rounded up to 16, zero weights past k);
 *   the 4 outputs' epilogue as vectors: mult[4], h[4], (24 - s)[4], and with two A[4], B[4]
 *   (q = ssat8((h + (acc * mult) >> 32) >> s), y = two ? ssat8((q * A + B) >> 16) : q, as
 *   ef_qfc_epi_s8: without the Add its A = 2^16 and 0 <= B < 2^16 leave q as it is).
 * p->kp == (k + 15) / 16 * 16; no stack buffer, so no bound on k. Any core runs it; only
 * one with MVE runs it fast (ef_mve.c). */
#ifndef EF_QFC_ROWS_H
#define EF_QFC_ROWS_H

#include "ef_kernels.h"

int ef_qfc_rows_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y);

/* The convolution of ef_qconv2d_fc_s8 on the same stream (groups == 1: k = c_in * kh * kw in
 * (ic, ky, kx) order, n = c_out), bit-exact to ef_qconv2d_s8 when the epilogue is proved:
 * each output pixel's window gathered into a row on the stack (padding reads x_zp), then
 * ef_qfc_rows_s8's row. p->kp == (k + 15) / 16 * 16, k <= EF_QFC_KMAX. */
int ef_qconv2d_rows_s8(const ef_qconv2d_fc_params *p, const int8_t *x, const int32_t *ws, int8_t *y);

#endif /* EF_QFC_ROWS_H */
