/* edgeformer portable C99 kernels: one params struct per kernel family, int status return,
 * no allocation. Attribute handling (pads, broadcasting strides, axes) happens in the Python
 * emitters; kernels only see flat sizes and stride tables. Kernels named `_any` move bytes
 * and work for every dtype (elem_size gives the element width). */
#ifndef EF_KERNELS_H
#define EF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define EF_MAX_DIMS 8

enum { EF_OK = 0, EF_ERR_PARAM = 1 };

/* ---- elementwise -------------------------------------------------------------------- */
enum {
    EF_BIN_ADD, EF_BIN_SUB, EF_BIN_MUL, EF_BIN_DIV, EF_BIN_POW, EF_BIN_MAX, EF_BIN_MIN,
    EF_BIN_FMOD, EF_BIN_PRELU,
    EF_CMP_GREATER, EF_CMP_LESS, EF_CMP_EQUAL, EF_CMP_GREATER_EQ, EF_CMP_LESS_EQ,
    EF_LOG_AND, EF_LOG_OR, EF_LOG_XOR
};

/* Broadcasting: y has `shape`; a and b are read with their own strides (0 on a broadcast dim). */
typedef struct {
    int32_t op;
    int32_t rank;
    int32_t shape[EF_MAX_DIMS];
    int32_t a_stride[EF_MAX_DIMS];
    int32_t b_stride[EF_MAX_DIMS];
} ef_binary_params;

int ef_binary_f32(const ef_binary_params *p, const float *a, const float *b, float *y);
int ef_compare_f32(const ef_binary_params *p, const float *a, const float *b, uint8_t *y);
int ef_logical_u8(const ef_binary_params *p, const uint8_t *a, const uint8_t *b, uint8_t *y);

enum {
    EF_UN_RELU, EF_UN_SIGMOID, EF_UN_TANH, EF_UN_ERF, EF_UN_EXP, EF_UN_LOG, EF_UN_SQRT,
    EF_UN_NEG, EF_UN_ABS, EF_UN_RECIPROCAL, EF_UN_LEAKY_RELU, EF_UN_GELU, EF_UN_GELU_TANH,
    EF_UN_HARD_SIGMOID, EF_UN_HARD_SWISH, EF_UN_SOFTPLUS, EF_UN_SOFTSIGN, EF_UN_CLIP,
    EF_UN_ELU, EF_UN_SELU, EF_UN_CELU, EF_UN_FLOOR, EF_UN_CEIL, EF_UN_ROUND, EF_UN_SIN,
    EF_UN_COS, EF_UN_TAN, EF_UN_ASIN, EF_UN_ACOS, EF_UN_ATAN, EF_UN_SINH, EF_UN_COSH,
    EF_UN_ASINH, EF_UN_ACOSH, EF_UN_ATANH, EF_UN_SIGN, EF_UN_MISH, EF_UN_THRESHOLDED_RELU,
    EF_UN_AFFINE, EF_UN_SWISH, EF_UN_SHRINK
};

/* y = f(x) elementwise; alpha/beta carry the op's attributes (slope, min/max, scale...). */
typedef struct {
    int32_t op;
    int32_t n;
    float alpha;
    float beta;
} ef_unary_params;

int ef_unary_f32(const ef_unary_params *p, const float *x, float *y);
/* ef_unary_f32 with Erf and Gelu by a rational approximation (|error| <= 3.5e-7 absolute,
 * ef_f32_fast.h); every other op as ef_unary_f32. */
int ef_unary_f32_fast(const ef_unary_params *p, const float *x, float *y);
int ef_not_u8(int32_t n, const uint8_t *x, uint8_t *y);

/* y[i] = cond[i] ? a[i] : b[i], broadcast like ef_binary (c_stride for cond). */
typedef struct {
    int32_t rank;
    int32_t elem_size;
    int32_t shape[EF_MAX_DIMS];
    int32_t c_stride[EF_MAX_DIMS];
    int32_t a_stride[EF_MAX_DIMS];
    int32_t b_stride[EF_MAX_DIMS];
} ef_where_params;

int ef_where_any(const ef_where_params *p, const uint8_t *cond, const void *a, const void *b,
                 void *y);

enum { EF_DT_F32, EF_DT_I8, EF_DT_U8, EF_DT_I16, EF_DT_I32, EF_DT_I64, EF_DT_BOOL };

typedef struct {
    int32_t n;
    int32_t from;
    int32_t to;
} ef_cast_params;

int ef_cast_any(const ef_cast_params *p, const void *x, void *y);

/* ---- linear algebra ----------------------------------------------------------------- */
/* y[b] = a[b] (m x k) @ bmat[b] (k x n); batch dims broadcast through the stride tables. */
typedef struct {
    int32_t m, k, n;
    int32_t batch_rank;
    int32_t batch_shape[EF_MAX_DIMS];
    int32_t a_stride[EF_MAX_DIMS];
    int32_t b_stride[EF_MAX_DIMS];
} ef_matmul_params;

int ef_matmul_f32(const ef_matmul_params *p, const float *a, const float *b, float *y);

/* y = alpha * op(a) @ op(b) + beta * c; c (may be NULL) read with c_stride_m/c_stride_n. */
typedef struct {
    int32_t m, k, n;
    int32_t trans_a, trans_b;
    float alpha, beta;
    int32_t c_stride_m, c_stride_n;
} ef_gemm_params;

int ef_gemm_f32(const ef_gemm_params *p, const float *a, const float *b, const float *c,
                float *y);

/* ef_matmul_f32 for FPU cores: 16 outputs at a time in registers, one VFMA per MAC. Equal
 * bit for bit to "fmaf over k in order from 0" (ef_matmul_f32 rounds each product). */
int ef_matmul_f32_fast(const ef_matmul_params *p, const float *a, const float *b, float *y);

/* y (m x n) = x (m x k) @ w + bias (bias may be NULL, else n floats added first): w is the
 * (k x n) weight packed offline by columns in blocks of 16, each block (k x 16) row-major,
 * the last block (k x n % 16) (export/emit/ops_linear.py: pack_f32_fc). */
typedef struct {
    int32_t m, k, n;
} ef_fc_f32_params;

int ef_fc_f32(const ef_fc_f32_params *p, const float *x, const float *w, const float *bias,
              float *y);

/* NCHW 2-D convolution (1-D models use h = 1); bias may be NULL. */
typedef struct {
    int32_t n, c_in, h, w;
    int32_t c_out, kh, kw;
    int32_t oh, ow;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dil_h, dil_w;
    int32_t groups;
} ef_conv2d_params;

int ef_conv2d_f32(const ef_conv2d_params *p, const float *x, const float *w, const float *bias,
                  float *y);
/* The same convolution with groups == 1, dil_w == 1, kw <= 16 and w packed offline in blocks
 * of 16 output channels, each (c_in, kh, kw, 16) (the last c_out % 16): ops_conv.py's
 * pack_f32_conv. EF_ERR_PARAM otherwise. */
int ef_conv2d_f32_fast(const ef_conv2d_params *p, const float *x, const float *w,
                       const float *bias, float *y);

/* ---- pooling ------------------------------------------------------------------------- */
typedef struct {
    int32_t n, c, h, w;
    int32_t oh, ow;
    int32_t kh, kw;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dil_h, dil_w;
    int32_t count_include_pad; /* average pool only */
    int32_t pad_bottom, pad_right; /* the explicit pads: padded area that counts */
} ef_pool2d_params;

int ef_maxpool2d_f32(const ef_pool2d_params *p, const float *x, float *y);
int ef_avgpool2d_f32(const ef_pool2d_params *p, const float *x, float *y);

/* ---- normalisation and softmax ------------------------------------------------------ */
/* x viewed as (outer, axis_len, inner); softmax (or log-softmax) along axis_len. */
typedef struct {
    int32_t outer, axis_len, inner;
    int32_t log;
} ef_softmax_params;

int ef_softmax_f32(const ef_softmax_params *p, const float *x, float *y);
/* One exp per element (relative error <= 1.5e-7, ef_f32_fast.h), then a multiply by 1/sum. */
int ef_softmax_f32_fast(const ef_softmax_params *p, const float *x, float *y);

/* x viewed as (outer, size); scale/bias (bias may be NULL) broadcast with *_period. */
typedef struct {
    int32_t outer, size;
    float epsilon;
    int32_t scale_period, bias_period;
} ef_layernorm_params;

int ef_layernorm_f32(const ef_layernorm_params *p, const float *x, const float *scale,
                     const float *bias, float *y, float *mean_out, float *inv_std_out);

/* x viewed as (n, c, spatial); per-channel scale, bias, mean, var. */
typedef struct {
    int32_t n, c, spatial;
    float epsilon;
} ef_batchnorm_params;

int ef_batchnorm_f32(const ef_batchnorm_params *p, const float *x, const float *scale,
                     const float *bias, const float *mean, const float *var, float *y);

/* ---- reductions ---------------------------------------------------------------------- */
enum {
    EF_RED_SUM, EF_RED_MEAN, EF_RED_MAX, EF_RED_MIN, EF_RED_PROD, EF_RED_SUM_SQUARE,
    EF_RED_L1, EF_RED_L2, EF_RED_LOG_SUM, EF_RED_LOG_SUM_EXP
};

/* For every y element (out_shape, strides into x in out_stride), fold the x elements
 * spanned by red_shape/red_stride. Both tables have the input's rank. */
typedef struct {
    int32_t op;
    int32_t rank;
    int32_t out_shape[EF_MAX_DIMS];
    int32_t out_stride[EF_MAX_DIMS];
    int32_t red_shape[EF_MAX_DIMS];
    int32_t red_stride[EF_MAX_DIMS];
} ef_reduce_params;

int ef_reduce_f32(const ef_reduce_params *p, const float *x, float *y);

/* ---- data movement (any dtype) -------------------------------------------------------- */
/* y[dst_offset + sum(i_d * dst_stride_d)] <- x[offset + sum(i_d * stride_d)] over `shape`
 * (element units): transpose, slice, expand, tile, pad interiors. */
typedef struct {
    int32_t rank;
    int32_t elem_size;
    int32_t offset;
    int32_t dst_offset;
    int32_t shape[EF_MAX_DIMS];
    int32_t stride[EF_MAX_DIMS];
    int32_t dst_stride[EF_MAX_DIMS];
} ef_strided_copy_params;

int ef_strided_copy_any(const ef_strided_copy_params *p, const void *x, void *y);

/* `count` blocks of `block_bytes`: block i from x + i*src_stride to y + i*dst_stride
 * (concat, split, pad interiors). */
typedef struct {
    int32_t count;
    int32_t block_bytes;
    int32_t src_stride;
    int32_t dst_stride;
} ef_block_copy_params;

int ef_block_copy_any(const ef_block_copy_params *p, const void *x, void *y);

/* y = x viewed as (outer, axis_len, inner_bytes) gathered at idx[n_idx] along the axis. */
typedef struct {
    int32_t outer, axis_len, inner_bytes, n_idx;
} ef_gather_params;

int ef_gather_any(const ef_gather_params *p, const void *x, const int32_t *idx, void *y);
int ef_gather_i64idx_any(const ef_gather_params *p, const void *x, const int64_t *idx, void *y);

int ef_copy_any(int32_t nbytes, const void *x, void *y);
/* y[0..n) = *value (elem_size bytes), e.g. Pad's constant. */
int ef_fill_any(int32_t n, int32_t elem_size, const void *value, void *y);

/* ---- quantisation ---------------------------------------------------------------------- */
/* x viewed as (outer, axis_len, inner); scale/zero_point have axis_len entries
 * (1 for per-tensor). zero_point may be NULL (= 0). */
typedef struct {
    int32_t outer, axis_len, inner;
} ef_quant_params;

int ef_dequantize_s8_f32(const ef_quant_params *p, const int8_t *x, const float *scale,
                         const int8_t *zp, float *y);
int ef_dequantize_u8_f32(const ef_quant_params *p, const uint8_t *x, const float *scale,
                         const uint8_t *zp, float *y);
int ef_dequantize_s32_f32(const ef_quant_params *p, const int32_t *x, const float *scale,
                          const int32_t *zp, float *y);
int ef_quantize_f32_s8(const ef_quant_params *p, const float *x, const float *scale,
                       const int8_t *zp, int8_t *y);
int ef_quantize_f32_u8(const ef_quant_params *p, const float *x, const float *scale,
                       const uint8_t *zp, uint8_t *y);

/* ---- int8 fused ops (export/passes/fold_qdq.py) ---------------------------------------- */
/* acc = bias[c] + sum (x - x_zp) * w  (int32); y = clamp(requant(acc, mult[c], shift[c]) + y_zp),
 * requant(acc) = acc * mult * 2^(shift - 31) rounded half to even. */
typedef struct {
    int32_t m, k, n;          /* x (m, k), w (n, k) row-major, y (m, n) */
    int32_t x_zp, y_zp;
    int32_t act_min, act_max;
} ef_qmatmul_params;

int ef_qmatmul_s8(const ef_qmatmul_params *p, const int8_t *x, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y);

typedef struct {
    ef_conv2d_params conv;    /* geometry, as for ef_conv2d_f32 */
    int32_t x_zp, y_zp;
    int32_t act_min, act_max;
} ef_qconv2d_params;

int ef_qconv2d_s8(const ef_qconv2d_params *p, const int8_t *x, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y);

/* ---- int8 between int8 tensors (export/passes/int8_*.py) ------------------------------ */
/* Each kernel here has a reference (_ref, ef_qint8.c / ef_qlinear.c) and the bit-exact fast
 * kernel the model calls (ef_qint8_fast.c, ef_qfc.c). */
/* Per-tensor int8: real = (q - zp) * scale. Float kernels quantise as onnxruntime does:
 * q = saturate(rint(v / scale) + zp), rint rounding half to even. */

/* y[i] = table[x[i] + 128]: any elementwise function of one int8 tensor (int8_lut). */
typedef struct {
    int32_t n;
} ef_lut_params;

int ef_lut_s8(const ef_lut_params *p, const int8_t *x, const int8_t *table, int8_t *y);
int ef_lut_s8_ref(const ef_lut_params *p, const int8_t *x, const int8_t *table, int8_t *y);

enum { EF_QBIN_ADD, EF_QBIN_SUB, EF_QBIN_MUL };

/* y = Q(DQ(a) op DQ(b)) in float32 per element, broadcast like ef_binary_params. */
typedef struct {
    int32_t op;
    int32_t rank;
    int32_t shape[EF_MAX_DIMS];
    int32_t a_stride[EF_MAX_DIMS];
    int32_t b_stride[EF_MAX_DIMS];
    float a_scale, b_scale, y_scale;
    int32_t a_zp, b_zp, y_zp;
} ef_qbinary_params;

int ef_qbinary_s8(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y);
int ef_qbinary_s8_ref(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y);

/* Softmax over each contiguous row of `row` values: y = Q(softmax(DQ(x) * pre_scale)).
 * With s = x_scale * pre_scale and q* the row's max (min when s < 0), each exponent is
 * exp(s * (x_i - q*)) = exp_table[|x_i - q*|]: x is int8, so a row needs at most 256
 * distinct exponentials, tabulated once at export (256 floats per node, in flash).
 * scratch: row floats (the reference kernel, and the fast one on a core with a DSP and FPU
 * when row is a multiple of 4: each exponential is looked up once, into scratch). */
typedef struct {
    int32_t rows, row;
    float x_scale, pre_scale, y_scale;
    int32_t x_zp, y_zp;
} ef_qsoftmax_params;

int ef_qsoftmax_s8(const ef_qsoftmax_params *p, const int8_t *x, const float *exp_table,
                   int8_t *y, float *scratch);
int ef_qsoftmax_s8_ref(const ef_qsoftmax_params *p, const int8_t *x, const float *exp_table,
                       int8_t *y, float *scratch);

/* LayerNorm over each row of `size` values (gamma, beta: size floats), y = Q(LN(DQ(x))).
 * pool_rows > 0: y holds, per group of pool_rows rows, the quantised mean of their LN rows
 * (ViT's final norm + token mean). scratch: size floats (2 * size when pooling). */
typedef struct {
    int32_t rows, size, pool_rows;
    float epsilon, x_scale, y_scale;
    int32_t x_zp, y_zp;
} ef_qlayernorm_params;

int ef_qlayernorm_s8(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                     const float *beta, int8_t *y, float *scratch);
int ef_qlayernorm_s8_ref(const ef_qlayernorm_params *p, const int8_t *x, const float *gamma,
                         const float *beta, int8_t *y, float *scratch);

/* y[b] = requant(sum_k (a - a_zp)(b - b_zp)) + y_zp: activation x activation matmul,
 * a[b] (m x k), b[b] (k x n) or, with trans_b, bᵀ (n x k) (passes/aa_trans_b.py), batch
 * broadcast as in ef_matmul_params; one mult/shift. h != 0: the requantisation is
 * ssat8((h + (acc * mult) >> 32) >> (-1 - shift)), proved equal offline (no accumulator
 * can tie; emit/qepilogue.py); 0: round half to even at run time. */
typedef struct {
    int32_t m, k, n;
    int32_t batch_rank;
    int32_t batch_shape[EF_MAX_DIMS];
    int32_t a_stride[EF_MAX_DIMS];
    int32_t b_stride[EF_MAX_DIMS];
    int32_t a_zp, b_zp, y_zp;
    int32_t mult, shift;
    int32_t trans_b, h;
} ef_qmatmul_aa_params;

int ef_qmatmul_aa_s8(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                     int8_t *y);
int ef_qmatmul_aa_s8_ref(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                         int8_t *y);

/* ---- fast int8 fully-connected / conv on packed weights (ef_qfc.c) ---------------------
 * Bit-exact to ef_qmatmul_s8 / ef_qconv2d_s8 with w packed offline (ops_qlinear.py pack_fc):
 * n padded to np (multiple of 4), k to kp (multiple of 4, zero weights);
 * w: int32 words, per block of 4 outputs, per 4 k: for each output j, the int16 pairs
 *    (w[j][k], w[j][k+2]) then (w[j][k+1], w[j][k+3]) (low half first): np * kp / 2 words;
 * chan: per output (np of them) {bias - x_zp * sum_k w, mult, s, rnd} with s = -1 - shift
 *    and rnd = 2^(s-1) - 1 when s >= 1 (the rounding constants of ef_requant_s), else 0.
 * k <= EF_QFC_KMAX: the widened input row lives on the stack. */
#define EF_QFC_KMAX 256

typedef struct {
    int32_t m, k, n, kp;      /* x (m, k), y (m, n) */
    int32_t y_zp;
    int32_t act_min, act_max;
} ef_qfc_params;

int ef_qfc_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *w, const int32_t *chan,
              int8_t *y);

/* ef_qfc_s8, then the bias Add onnxruntime leaves after a 3-D MatMul, in the epilogue:
 * bit-exact to ef_qmatmul_s8 then ef_qbinary_s8_ref (EF_QBIN_ADD) with the int8 constant c
 * per output channel. addc[j] = (float)(c[j] - c_zp) * c_scale (np floats, computed offline
 * in float32: the product the QAdd kernel forms); the matmul's int8 output q (zero point
 * fc.y_zp == m_zp, clamped to [act_min, act_max]) becomes
 * q8((addc[j] + (float)(q - m_zp) * m_scale) / y_scale) + y_zp, saturated. */
typedef struct {
    ef_qfc_params fc;
    float m_scale, y_scale;
    int32_t m_zp, y_zp;
} ef_qfc_add_params;

int ef_qfc_add_s8(const ef_qfc_add_params *p, const int8_t *x, const int32_t *w,
                  const int32_t *chan, const float *addc, int8_t *y);

/* ef_qfc_s8 or ef_qfc_add_s8 with an all-integer epilogue that ops_qlinear.py
 * (qepilogue.pack_epilogue) proved equal to theirs for every accumulator and every int8 q
 * offline: q = ssat8((h + (acc * mult) >> 32) >> s), the requantisation when no accumulator
 * can sit half-way (h = 2^(s-1) + y_zp * 2^s), then y = ssat8((q * A + B) >> 16), the bias
 * Add (A = 2^16, B = s: none); s is B's low byte. ws, one stream: per block of 4 outputs,
 * their 4 folded biases, the block's kp / 4 chunks of weight words (as ef_qfc_s8's w), then
 * per output {mult, h, A, B}. p->y_zp, act_min/act_max: folded in. */
int ef_qfc_epi_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y);

/* Conv: k = c_in / groups * kh * kw in (ic, ky, kx) order; each group packed as above,
 * groups back to back (w and chan). */
typedef struct {
    ef_conv2d_params conv;
    int32_t kp;
    int32_t x_zp, y_zp;       /* x_zp: what padding taps read (adds 0 after the folded bias) */
    int32_t act_min, act_max;
} ef_qconv2d_fc_params;

int ef_qconv2d_fc_s8(const ef_qconv2d_fc_params *p, const int8_t *x, const int32_t *w,
                     const int32_t *chan, int8_t *y);

#endif /* EF_KERNELS_H */
