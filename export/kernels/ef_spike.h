/* Event-driven int8 fully-connected layers for spike inputs (ef_spike.c), bit-exact to
 * ef_qmatmul_s8 / ef_qfc_s8 on the same weights, bias and requantisation.
 *
 * A spike input holds two int8 levels: x_lo (silent, the input zero point Q(0)) and x_hi
 * (fired). The dense accumulator bias + sum_k (x[k] - x_zp) * w[j][k] is then
 *     bias' + (x_hi - x_lo) * sum_{k fired} w[j][k] + sum_{k other} (x[k] - x_lo) * w[j][k]
 * with bias' = bias + (x_lo - x_zp) * sum_k w[j][k]: the kernel lists the inputs that are
 * not x_lo, adds the weight rows of the fired ones in int16 lanes (exact: k <= 256), and
 * multiplies once per output. Any other value (none, for a real spike tensor) takes the
 * int32 multiply path, so the result is exact for every input.
 *
 * ws, one int32 stream written by export/emit/ops_spike.py:
 *   ef_spike_fc_params (8 words);
 *   per output (nt * 8 of them) a record {bias', mult, s, rnd}: ef_qfc_s8's chan
 *     requantisation (y = clamp8(requant(acc) + y_zp)), exact for any input;
 *   when epi != 0, per output a record {bias', mult, h, s}: the all-integer requantisation of
 *     ef_qfc_epi_s8 (y = ssat8((h + (acc * mult) >> 32) >> s)), proved exact offline by
 *     qepilogue.requant_consts for every row of spikes only (x_lo or x_hi everywhere: a far
 *     smaller accumulator than an arbitrary int8 row's); rows with other values take the
 *     chan records;
 *   per tile of 8 outputs, per k: 4 words of int16 pairs (w[j0+2i][k], w[j0+2i+1][k]),
 *     low half first (SADD16 lanes); padding outputs have zero weights;
 *   the n int8 outputs of a row where nothing fired (every input x_lo), 4 to a word. */
#ifndef EF_SPIKE_H
#define EF_SPIKE_H

#include <stdint.h>

#define EF_SPIKE_KMAX 256

typedef struct {
    int32_t m, k, n;          /* x (m, k), y (m, n) */
    int32_t nt;               /* tiles of 8 outputs: (n + 7) / 8 */
    int32_t x_lo, x_hi;       /* silent and fired input levels */
    int32_t epi;              /* 1: the spike-row {bias', mult, h, s} records follow the chan ones */
    int32_t y_zp;             /* of the chan records */
} ef_spike_fc_params;

/* y (m, n) int8 from x (m, k) int8 and the stream ws; EF_ERR_PARAM (1) on a bad header. */
int ef_spike_fc_s8(const int32_t *ws, const int8_t *x, int8_t *y);

/* The same on the same stream, one input at a time with int32 multiplies: the definition
 * the event-driven path is tested against. */
int ef_spike_fc_s8_ref(const int32_t *ws, const int8_t *x, int8_t *y);

/* A LIF neuron (or a stateless threshold) in one pass, bit-exact to the float32 ops it
 * replaces (export/passes/lif_fuse.py), per element i:
 *     xd = (float)(x[i] - x_zp) * x_scale
 *     v  = state ? (v_in[i] * leak) * (one - s_in[i]) + xd : xd
 *     fire = v > th
 * and writes each requested form (NULL: not wanted): v_out = v, s_f = fire ? 1 : 0,
 * s_q = fire ? q_hi : q_lo (int8), s_dq = fire ? d_hi : d_lo. A stateless threshold whose
 * membrane is not wanted compares the int8 x with the smallest q that fires (the same
 * decision: the membrane is non-decreasing in x). ws, written by
 * export/emit/ops_spike.py, is the header below as int32 words (floats by their bits). */
typedef struct {
    int32_t n;                /* elements */
    int32_t x_zp;
    int32_t state;            /* 1: leaky membrane from (v_in, s_in); 0: v = xd */
    int32_t q_lo, q_hi;       /* int8 spike levels: Q(0), Q(1) */
    float x_scale, leak, one, th;
    float d_lo, d_hi;         /* the float of a Dequantize of the int8 spike */
} ef_lif_params;

int ef_lif_s8(const int32_t *ws, const int8_t *x, const float *v_in, const float *s_in,
              float *v_out, float *s_f, int8_t *s_q, float *s_dq);

#endif /* EF_SPIKE_H */
