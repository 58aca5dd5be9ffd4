/* Helium (MVE, Cortex-M55) inner loops of the fast int8 kernels (ef_mve.c). ef_qfc.c,
 * ef_qfc_rows.c, ef_qaa.c, ef_qint8_fast.c, ef_data.c (strided byte lines) and ef_quant.c
 * (per-tensor quantisation) call them when the compiler targets MVE
 * (EF_MVE; the float ones need MVE float too, EF_MVE_FP); elsewhere this header declares
 * nothing and ef_mve.c compiles to nothing. Each computes the same integer sums, or the same
 * float operations in the same order, as the scalar code it replaces, so the kernels stay
 * bit-exact to the reference. */
#ifndef EF_MVE_H
#define EF_MVE_H

#include <stdint.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define EF_MVE 1
#include "ef_kernels.h"

/* acc[j] += the dot of output j's packed int16 weights (ef_kernels.h: per 4 k, 8 words for a
 * block of 4 outputs) with the widened row xp (ef_qfc.c: 2 words per 4 k), over kc chunks. */
void ef_mve_fc_block(const int32_t *xp, const int32_t *wp, int32_t kc, int32_t *acc);

/* a16[q] = a[q] - zp for q < k (int16); returns their sum. */
int32_t ef_mve_widen_zp(const int8_t *a, int32_t k, int32_t zp, int16_t *a16);

/* acc + sum_q a16[q] * b[q * sq] for q < k: a16 int16 (a - a_zp), b int8 with stride sq
 * (1: a row of bᵀ, read contiguously; n: a column of a row-major b, read by gathers). */
int32_t ef_mve_dot_s16_s8(const int16_t *a16, const int8_t *b, int32_t sq, int32_t k, int32_t acc);

/* ef_qfc_epi_s8's epilogue of one block of 4 outputs as one vector: acc[4], rec the 4
 * records {mult, h, A, B} (ef_kernels.h), y[0..4) = ssat8((ssat8(smmul + h >> B&255) * A + B) >> 16). */
void ef_mve_fc_epi4(const int32_t *acc, const int32_t *rec, int8_t *y);

/* One row of a @ bᵀ with the proved requantisation (ef_qmatmul_aa_params.h != 0): for j < n,
 * y[j] = ssat8((h + (acc_j * mult) >> 32) >> s), acc_j = sum_q (a[q] - azp) * (bt[j][q] - bzp),
 * any k; scratch: 2k bytes (a - azp as bytes or int16). */
void ef_mve_aa_row_t(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t azp, int32_t bzp,
                     int32_t mult, int32_t h, int32_t s, int16_t *scratch, int8_t *y);

/* ef_mve_aa_row_t over heads one-row products: a + i sa, bt + i sb, y + i n for i < heads
 * (m == 1, one batch dimension), the call's set-up once. */
void ef_mve_aa_t_heads(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t heads, int32_t sa,
                       int32_t sb, int32_t azp, int32_t bzp, int32_t mult, int32_t h, int32_t s,
                       int16_t *scratch, int8_t *y);

/* ef_qmatmul_aa_s8 (ef_kernels.h's params) for one query row over one batch dimension of heads
 * (m == 1, trans_b, h != 0, batch_rank == 1) by ef_mve_aa_t_heads' one-block paths, straight
 * from the params; returns 0 (nothing done) where they do not apply. */
int ef_mve_aa_heads(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b, int8_t *y);

/* ef_qfc_rows_s8's row (ef_qfc_rows.h): y[0..n) from x[0..k) and the stream's blocks ws
 * (past its header word), two: the epilogue's second stage (the header). */
void ef_mve_fc_rows(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int32_t two, int8_t *y);

/* The row kernels behind ef_mve_fc_rows, nb (>= 1) whole blocks of 4 outputs each, by
 * [two != 0][k <= 128 ? ceil(k / 16) : 0] (EF_MVE_FC_FN): ef_qfc_rows.c calls one directly
 * for a single row of whole blocks. */
typedef void ef_mve_fc_fn(const int8_t *x, int32_t k, const int32_t *ws, int32_t nb, int8_t *y);
extern ef_mve_fc_fn *const ef_mve_fc_fns[2][9];
#define EF_MVE_FC_FN(k, two) ef_mve_fc_fns[(two) != 0][(k) <= 128 ? ((k) + 15) >> 4 : 0]

/* ef_data.c's strided byte line: y[i * sy] = x[i * sx] for i < n; returns 0 (nothing done)
 * unless n >= 8, 0 < sx, sy < 8192 and the two ranges do not overlap. */
int ef_mve_copy8(uint8_t *y, int32_t sy, const uint8_t *x, int32_t sx, int32_t n);

/* ef_data.c's forward byte copy: y[0..n) = x[0..n), 16 bytes a pass of a tail-predicated
 * loop (VLDRB.8, VSTRB.8, LETP), each pass loading before it stores: right when the ranges do
 * not overlap or y lies below x, as the scalar copy it replaces. */
static inline void ef_mve_copy_fwd(uint8_t *y, const uint8_t *x, uint32_t n)
{
    __asm__ volatile(
        "wlstp.8 lr, %[n], 2f\n"
        "1:\n\t"
        "vldrb.8 q0, [%[x]], #16\n\t"
        "vstrb.8 q0, [%[y]], #16\n\t"
        "letp lr, 1b\n"
        "2:"
        : [x] "+r"(x), [y] "+r"(y)
        : [n] "r"(n)
        : "q0", "lr", "memory");
}

/* ef_strided_copy_any of bytes at rank 1 or 2 (ef_data.c): y[i * dst_stride[0] + j *
 * dst_stride[r]] = x[i * stride[0] + j * stride[r]], r = rank - 1, when every stride is
 * positive, the inner ones below 8192 and the two ranges do not overlap (then the order of
 * the copies cannot matter); returns 0 (nothing done) otherwise. Contiguous lines by
 * predicated VLDRB / VSTRB, strided ones 8 bytes a gather / scatter. */
int ef_mve_strided8(uint8_t *y, const uint8_t *x, int32_t rank, const int32_t *shape, const int32_t *stride,
                    const int32_t *dst_stride);

/* y[i] = table[x[i] + 128] for i < n (ef_lut_s8): 16 bytes a pass of a tail-predicated
 * loop, the table read by one byte gather (offsets x ^ 0x80); y may be x. */
void ef_mve_lut(const int8_t *x, const int8_t *table, int32_t n, int8_t *y);

/* The largest of x[0..n), n >= 1: 16 bytes a VMAXV in a tail-predicated loop. */
int32_t ef_mve_max_s8(const int8_t *x, int32_t n);

/* MVE with floating point (cortex-m55's default): the float kernels may use it too. */
#if __ARM_FEATURE_MVE & 2
#define EF_MVE_FP 1

/* LayerNorm's float steps over n4 * 4 values (ef_qint8_fast.c), the scalar operations in the
 * same order, 4 lanes at a time where the reference's order allows (products, differences)
 * and lane by lane where it does not (the float sums, the division: MVE has no VDIV):
 * dq: v[i] = (float)(x[i] - zp) * xs, returns acc + v[0] + v[1] + ... in index order;
 * var: returns acc + sum (v[i] - mean)^2 in index order;
 * out: y[i] = ef_q8_t(((v[i] - mean) * inv * g[i] + b[i]) / ys, zp). */
float ef_mve_ln_dq(const int8_t *x, int32_t n4, int32_t zp, float xs, float *v, float acc);
float ef_mve_ln_var(const float *v, int32_t n4, float mean, float acc);
void ef_mve_ln_out(const float *v, const float *g, const float *b, int32_t n4, float mean, float inv,
                   float ys, int32_t zp, int8_t *y);
/* Pooled LayerNorm's sums over n4 * 4 values (ef_qint8_fast.c's ef_ln_pooled, beta given):
 * acc[i] = (first ? 0.0f : acc[i]) + ((v[i] - mean) * inv * g[i] + b[i]), in that order. */
void ef_mve_ln_acc(const float *v, const float *g, const float *b, int32_t n4, float mean, float inv,
                   int32_t first, float *acc);
/* A whole row with beta, d % 4 == 0: dq, mean /= d, var, var /= d, inv = 1 / sqrtf(var + eps),
 * out; v: d floats of scratch. */
void ef_mve_ln_row(const int8_t *x, int32_t d, int32_t zp, float xs, float eps, const float *g, const float *b,
                   float ys, int32_t yzp, float *v, int8_t *y);

/* Softmax over n4 * 4 values of a row (ef_qsoftmax_s8): exps: e[i] = table[top - x[i]] (top:
 * the row's maximum), returns their sum in index order; out: y[i] =
 * ef_q8_t((e[i] / sum) / ys, zp) (ef_ln_pooled's quantisation too: e the sums, sum the
 * row count), by a multiplication with a proved fix-up (ef_mve.c). */
float ef_mve_sm_exps(const int8_t *x, const float *table, int32_t top, int32_t n4, float *e);
void ef_mve_sm_out(const float *e, int32_t n4, float sum, float ys, int32_t zp, int8_t *y);

/* One softmax row, n >= 16, n % 4 == 0: top = ef_mve_max_s8, then ef_mve_sm_exps (table: the
 * node's, e: n floats of scratch) and ef_mve_sm_out. */
void ef_mve_sm_row(const int8_t *x, const float *table, int32_t n, float ys, int32_t zp, float *e, int8_t *y);

/* ef_quantize_f32_s8 per tensor: y[i] = ssat8(rintf(x[i] / ys) + zp) for i < n. */
void ef_mve_quant_s8(const float *x, int32_t n, float ys, int32_t zp, int8_t *y);

/* The residual add of ef_qbinary_s8 over n4 * 4 values: y[i] =
 * ef_q8_t(((float)(a[i] - azp) * as + (float)(b[i] - bzp) * bs) / ys, yzp). */
void ef_mve_qadd(const int8_t *a, const int8_t *b, int32_t n4, int32_t azp, float as, int32_t bzp,
                 float bs, float ys, int32_t yzp, int8_t *y);

/* ef_qbinary_s8's residual add (rank 1, dense, n % 4 == 0), ef_qlayernorm_s8's rows (no
 * pooling, beta, d % 4 == 0) and ef_qsoftmax_s8's rows (n >= 16, n % 4 == 0) by the paths above,
 * straight from the params: each returns 0 (nothing done) where its path does not apply. */
int ef_mve_qadd_p(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y);
int ef_mve_ln_rows(const ef_qlayernorm_params *p, const int8_t *x, const float *g, const float *b, int8_t *y,
                   float *scratch);
int ef_mve_sm_rows(const ef_qsoftmax_params *p, const int8_t *x, const float *table, int8_t *y, float *scratch);
#else
#define EF_MVE_FP 0
#endif
#else
#define EF_MVE 0
#define EF_MVE_FP 0
#endif

#endif /* EF_MVE_H */
