/* Helium (MVE) inner loops for the Cortex-M55 (declared in ef_mve.h): the fully-connected
 * block over int16 pairs (ef_qfc.c) and over int8 rows with its epilogue (ef_qfc_rows.c), the
 * act x act products of attention (ef_qaa.c), the float steps of LayerNorm, softmax and
 * the residual add, LUT and row maximum (ef_qint8_fast.c), strided byte copies (ef_data.c)
 * and per-tensor quantisation (ef_quant.c). All bit-exact to the reference kernels
 * (tests/unit/test_kernels_cores.py runs them on QEMU's mps3-an547).
 *
 * Instruction counts are not cycles: an M55 executes a 128-bit MVE instruction in two or
 * four beats, and a gather load fetches one element per beat. */
#include "ef_mve.h"

#if EF_MVE
#include <arm_acle.h>
#include <arm_mve.h>
#include <math.h>
#include <stddef.h>

/* Output j's 4 words of a pair of 4-k chunks lie at byte offsets 8j, 8j+4, 32+8j and 36+8j
 * of the pair's 64 bytes (ef_kernels.h's packing); the widened row's 4 words of the same
 * 8 k are contiguous in the same (x0, x2), (x1, x3) order. So one gather (VLDRW with a
 * vector of addresses, advanced 64 bytes per step by its writeback) fetches output j's
 * 8 int16 weights and one VMLADAVA.S16 adds their 8 products: per 32 MACs, 1 contiguous
 * load, 4 gathers, 4 VMLADAVA. An odd last chunk takes SMLAD. */
void ef_mve_fc_block(const int32_t *xp, const int32_t *wp, int32_t kc, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], i;
    const uint32_t base = (uint32_t)(uintptr_t)wp - 64u;
    const uint32x4_t off = {0u, 4u, 32u, 36u};
    uint32x4_t p0 = vaddq_n_u32(off, base), p1 = vaddq_n_u32(off, base + 8u);
    uint32x4_t p2 = vaddq_n_u32(off, base + 16u), p3 = vaddq_n_u32(off, base + 24u);
    /* GCC 12 spills the four address vectors of the intrinsic form; by hand they stay in
     * q0..q3 and the loop is 9 instructions per 32 MACs plus LE. VMLADAVA wants even
     * accumulator registers. */
    i = kc >> 1;
    if (i > 0) {
        register int32_t r0 __asm__("r0") = a0, r2 __asm__("r2") = a1, r4 __asm__("r4") = a2,
                         r6 __asm__("r6") = a3;
        register uint32x4_t q0 __asm__("q0") = p0, q1 __asm__("q1") = p1, q2 __asm__("q2") = p2,
                            q3 __asm__("q3") = p3;
        __asm__ volatile(
            "dls lr, %[i]\n"
            "1:\n\t"
            "vldrw.u32 q4, [%[xp]], #16\n\t"
            "vldrw.u32 q5, [q0, #64]!\n\t"
            "vmladava.s16 %[a0], q4, q5\n\t"
            "vldrw.u32 q6, [q1, #64]!\n\t"
            "vmladava.s16 %[a1], q4, q6\n\t"
            "vldrw.u32 q5, [q2, #64]!\n\t"
            "vmladava.s16 %[a2], q4, q5\n\t"
            "vldrw.u32 q6, [q3, #64]!\n\t"
            "vmladava.s16 %[a3], q4, q6\n\t"
            "le lr, 1b"
            : [a0] "+r"(r0), [a1] "+r"(r2), [a2] "+r"(r4), [a3] "+r"(r6), [xp] "+r"(xp),
              "+w"(q0), "+w"(q1), "+w"(q2), "+w"(q3)
            : [i] "r"(i)
            : "q4", "q5", "q6", "lr", "memory");
        a0 = r0, a1 = r2, a2 = r4, a3 = r6;
    }
    if (kc & 1) {
        const int32_t *w = wp + 8 * (kc - 1), xe = xp[0], xo = xp[1];
        a0 = __smlad(xe, w[0], __smlad(xo, w[1], a0));
        a1 = __smlad(xe, w[2], __smlad(xo, w[3], a1));
        a2 = __smlad(xe, w[4], __smlad(xo, w[5], a2));
        a3 = __smlad(xe, w[6], __smlad(xo, w[7], a3));
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

int32_t ef_mve_widen_zp(const int8_t *a, int32_t k, int32_t zp, int16_t *a16)
{
    int32_t q, sum = 0;
    for (q = 0; q < k; q += 8) {
        const mve_pred16_t t = vctp16q((uint32_t)(k - q));
        const int16x8_t v = vsubq_x_n_s16(vldrbq_z_s16(a + q, t), (int16_t)zp, t);
        vstrhq_p_s16(a16 + q, v, t);
        sum = vaddvaq_p_s16(sum, v, t);
    }
    return sum;
}

/* VLD4 splits the 4 records into mult, h, A, B vectors; VMULH is SMMUL, VSHL by -(B & 255)
 * the ASR, VMUL + VADD the MLA, clamps the SSATs, VSTRB.32 the 4 byte stores: 18 instructions
 * for 4 outputs (the scalar epilogue: 7 each). */
void ef_mve_fc_epi4(const int32_t *acc, const int32_t *rec, int8_t *y)
{
    const int32x4x4_t r = vld4q_s32(rec);
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    int32x4_t v = vaddq_s32(vmulhq_s32(vldrwq_s32(acc), r.val[0]), r.val[1]);
    v = vshlq_s32(v, vnegq_s32(vandq_s32(r.val[3], vdupq_n_s32(0xFF))));
    v = vminq_s32(vmaxq_s32(v, lo), hi);
    v = vshrq_n_s32(vaddq_s32(vmulq_s32(v, r.val[2]), r.val[3]), 16);
    vstrbq_s32(y, vminq_s32(vmaxq_s32(v, lo), hi));
}

/* 8 k per step: VLDRH of a's int16, b's 8 bytes sign-extended (VLDRB.S16, or a gather of
 * offsets 0, sq, .., 7 sq), VMLADAVA.S16; the tail under a VCTP predicate, which also keeps
 * the loads inside both operands. */
int32_t ef_mve_dot_s16_s8(const int16_t *a16, const int8_t *b, int32_t sq, int32_t k, int32_t acc)
{
    int32_t q = 0;
    if (sq == 1) {
        for (; q + 8 <= k; q += 8)
            acc = vmladavaq_s16(acc, vldrhq_s16(a16 + q), vldrbq_s16(b + q));
        if (q < k) {
            const mve_pred16_t t = vctp16q((uint32_t)(k - q));
            acc = vmladavaq_p_s16(acc, vldrhq_z_s16(a16 + q, t), vldrbq_z_s16(b + q, t), t);
        }
        return acc;
    }
    {
        const uint16x8_t off = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sq);
        for (; q + 8 <= k; q += 8, b += 8 * sq)
            acc = vmladavaq_s16(acc, vldrhq_s16(a16 + q), vldrbq_gather_offset_s16(b, off));
        if (q < k) {
            const mve_pred16_t t = vctp16q((uint32_t)(k - q));
            acc = vmladavaq_p_s16(acc, vldrhq_z_s16(a16 + q, t), vldrbq_gather_offset_z_s16(b, off, t), t);
        }
    }
    return acc;
}
/* nb blocks of 4 outputs of the int16 path (a - a_zp spans more than 256 values) in one asm
 * block (k % 8 == 0): per block the 4 rows of bᵀ from b0 (b1..b3 = b0 + k, 2k, 3k; after the
 * loop b3 has reached the next block's row 0), a loop of 8 k (VLDRH of a16, four VLDRB.S16 +
 * VMLADAVA.S16: 9 instructions and LE per 32 MACs), then the requantisation as one vector:
 * + corr (q7), VMULH by mult (q4: SMMUL), + h (q5), then VQSHL by 24 - s (q6) and VSHR #24:
 * floor(v / 2^s) saturated to int8 in two instructions (v << (24 - s) saturates exactly when
 * v >> s leaves int8; a negative count shifts right). 22 instructions per block besides the
 * loop. */
static void ef_mve_aa_blocks(const int16_t *a16, const int8_t *b0, int32_t k, int32_t nb, int8_t *y,
                             int32x4_t corr, int32x4_t mult, int32x4_t h, int32x4_t sh)
{
    register int32_t a0 __asm__("r6"), a1 __asm__("r8"), a2 __asm__("r10"), a3 __asm__("r12");
    register int32x4_t q4 __asm__("q4") = mult, q5 __asm__("q5") = h, q6 __asm__("q6") = sh,
                       q7 __asm__("q7") = corr;
    const int16_t *ap;
    const int8_t *b1, *b2, *b3;
    __asm__ volatile(
        "1:\n\t"
        "movs r6, #0\n\t"
        "mov r8, #0\n\t"
        "mov r10, #0\n\t"
        "mov r12, #0\n\t"
        "ldr %[ap], %[a16]\n\t"
        "add %[b1], %[b0], %[k]\n\t"
        "add %[b2], %[b1], %[k]\n\t"
        "add %[b3], %[b2], %[k]\n\t"
        "dlstp.16 lr, %[k]\n"
        "2:\n\t"
        "vldrh.16 q0, [%[ap]], #16\n\t"
        "vldrb.s16 q1, [%[b0]], #8\n\t"
        "vmladava.s16 r6, q0, q1\n\t"
        "vldrb.s16 q2, [%[b1]], #8\n\t"
        "vmladava.s16 r8, q0, q2\n\t"
        "vldrb.s16 q1, [%[b2]], #8\n\t"
        "vmladava.s16 r10, q0, q1\n\t"
        "vldrb.s16 q2, [%[b3]], #8\n\t"
        "vmladava.s16 r12, q0, q2\n\t"
        "letp lr, 2b\n\t"
        "mov %[b0], %[b3]\n\t"
        "vmov.32 q3[0], r6\n\t"
        "vmov.32 q3[1], r8\n\t"
        "vmov.32 q3[2], r10\n\t"
        "vmov.32 q3[3], r12\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "vmulh.s32 q3, q3, q4\n\t"
        "vadd.i32 q3, q3, q5\n\t"
        "vqshl.s32 q3, q3, q6\n\t"
        "vshr.s32 q3, q3, #24\n\t"
        "vstrb.32 q3, [%[yp]], #4\n\t"
        "subs %[nb], %[nb], #1\n\t"
        "bne 1b"
        : [b0] "+l"(b0), [yp] "+l"(y), [nb] "+r"(nb), [ap] "=&r"(ap), [b1] "=&l"(b1), [b2] "=&l"(b2),
          [b3] "=&l"(b3), "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3)
        : [a16] "m"(a16), [k] "r"(k), "w"(q4), "w"(q5), "w"(q6), "w"(q7)
        : "q0", "q1", "q2", "q3", "lr", "cc", "memory");
}

/* The requantisation of 4 sums r0, r2, r4, r6 as one vector (q3), as ef_mve_aa_blocks's:
 * + corr (q7), VMULH by mult (q4), + h (q5), VQSHL by 24 - s (q6), VSHR #24, 4 bytes out.
 * The sums enter q3 by 4 VMOVs, or (EF_MVE_AA_EPI_STM) STM to buf and VLDRW. */
#define EF_MVE_AA_EPI                 \
    "vmov.32 q3[0], r0\n\t"           \
    "vmov.32 q3[1], r2\n\t"           \
    "vmov.32 q3[2], r4\n\t"           \
    "vmov.32 q3[3], r6\n\t"           \
    EF_MVE_AA_EPI_Q3
#define EF_MVE_AA_EPI_STM             \
    "stm %[buf], {r0, r2, r4, r6}\n\t" \
    "vldrw.32 q3, [%[buf]]\n\t"        \
    EF_MVE_AA_EPI_Q3
#define EF_MVE_AA_EPI_Q3              \
    "vadd.i32 q3, q3, q7\n\t"         \
    "vmulh.s32 q3, q3, q4\n\t"        \
    "vadd.i32 q3, q3, q5\n\t"         \
    "vqshl.s32 q3, q3, q6\n\t"        \
    "vshr.s32 q3, q3, #24\n\t"        \
    "vstrb.32 q3, [%[yp]], #4\n\t"

/* One output's sum of the 8-bit path (r<n> += u . b[0..16)): VLDRB of b's 16 bytes, then
 * VMLADAV(A).S8 on u (q0); the unsigned form flips b's sign bits first (VEOR with q2 =
 * 0x80 each: b + 128 as uint8) for VMLADAV(A).U8. */
#define EF_MVE_AA_S8(op, r, bp) "vldrb.u8 q1, [%[" bp "]], #16\n\t" op ".s8 " r ", q0, q1\n\t"
#define EF_MVE_AA_U8(op, r, bp)                \
    "vldrb.u8 q1, [%[" bp "]], #16\n\t"        \
    "veor q1, q1, q2\n\t" op ".u8 " r ", q0, q1\n\t"

/* k == 16, the 8-bit path: u's 16 bytes stay in q0 and the 4 rows of a block follow each
 * other, so a block is 4 x (VLDRB, [VEOR,] VMLADAV), EF_MVE_AA_EPI_STM and LE: 17
 * instructions for 4 outputs (21 unsigned). */
#define EF_MVE_AA16_FN(name, STEP)                                                            \
    static void name(const int8_t *u, const int8_t *b, int32_t nb, int8_t *y, int32x4_t corr,  \
                     int32x4_t mult, int32x4_t h, int32x4_t sh)                               \
    {                                                                                         \
        register int32x4_t q4 __asm__("q4") = mult, q5 __asm__("q5") = h,                     \
                           q6 __asm__("q6") = sh, q7 __asm__("q7") = corr;                    \
        int32_t buf[4];                                                                       \
        __asm__ volatile(                                                                     \
            "vldrb.u8 q0, [%[u]]\n\t"                                                         \
            "vmov.i8 q2, #0x80\n\t"                                                           \
            "dls lr, %[nb]\n"                                                                 \
            "1:\n\t"                                                                          \
            STEP("vmladav", "r0", "b") STEP("vmladav", "r2", "b")                             \
            STEP("vmladav", "r4", "b") STEP("vmladav", "r6", "b")                             \
            EF_MVE_AA_EPI_STM                                                                 \
            "le lr, 1b"                                                                       \
            : [b] "+r"(b), [yp] "+l"(y)                                                       \
            : [u] "r"(u), [nb] "r"(nb), [buf] "r"(buf), "w"(q4), "w"(q5), "w"(q6), "w"(q7)    \
            : "r0", "r2", "r4", "r6", "q0", "q1", "q2", "q3", "lr", "memory");                 \
    }
EF_MVE_AA16_FN(ef_mve_aa16_s8, EF_MVE_AA_S8)
EF_MVE_AA16_FN(ef_mve_aa16_u8, EF_MVE_AA_U8)

/* One output's sum over nv chunks of u held in q0..q3 (k = 16 nv): its row's 16 nv bytes
 * follow each other (VLDRB post-incremented), the first chunk by VMLADAV, the rest VMLADAVA;
 * the unsigned form flips b's sign bits (q5) first. */
#define EF_MVE_AAX_S8(op, r, q) "vldrb.u8 q4, [%[b]], #16\n\t" op ".s8 " r ", " q ", q4\n\t"
#define EF_MVE_AAX_U8(op, r, q) "vldrb.u8 q4, [%[b]], #16\n\tveor q4, q4, q5\n\t" op ".u8 " r ", " q ", q4\n\t"
#define EF_MVE_AAX_OUT(STEP, r)                                                               \
    STEP("vmladav", r, "q0")                                                                  \
    ".if %c[nv] > 1\n\t" STEP("vmladava", r, "q1") ".endif\n\t"                               \
    ".if %c[nv] > 2\n\t" STEP("vmladava", r, "q2") ".endif\n\t"                               \
    ".if %c[nv] > 3\n\t" STEP("vmladava", r, "q3") ".endif\n\t"

/* k = 16 nv <= 64, the 8-bit path: u's nv chunks stay in q0..q3 and a block's 4 rows (4k
 * contiguous bytes of bᵀ) are read by one post-incremented pointer, so a block is 4 nv x
 * (VLDRB, [VEOR,] VMLADAV(A)), STM + VLDRW of the sums, the requantisation with its 4
 * vectors read from c (corr, mult, h, 24 - s at c + 16, +32, +48, +64; c[0..4) the STM's
 * buffer), VSTRB.32 and LE: 8 nv + 13 instructions (12 nv + 13 unsigned). */
#define EF_MVE_AAX_FN(name, NV, STEP)                                                         \
    static void name(const int8_t *u, const int8_t *b, int32_t k, int32_t nb, int8_t *y,       \
                     const int32_t *c)                                                        \
    {                                                                                         \
        register int8x16_t q0 __asm__("q0") = vldrbq_s8(u);                                   \
        register int8x16_t q1 __asm__("q1") = vldrbq_z_s8(u + 16, vctp8q((uint32_t)(NV > 1 ? k - 16 : 0))); \
        register int8x16_t q2 __asm__("q2") = vldrbq_z_s8(u + 32, vctp8q((uint32_t)(NV > 2 ? k - 32 : 0))); \
        register int8x16_t q3 __asm__("q3") = vldrbq_z_s8(u + 48, vctp8q((uint32_t)(NV > 3 ? k - 48 : 0))); \
        __asm__ volatile(                                                                     \
            "vmov.i8 q5, #0x80\n\t"                                                           \
            "dls lr, %[nb]\n"                                                                 \
            "1:\n\t"                                                                          \
            EF_MVE_AAX_OUT(STEP, "r0") EF_MVE_AAX_OUT(STEP, "r2")                             \
            EF_MVE_AAX_OUT(STEP, "r4") EF_MVE_AAX_OUT(STEP, "r6")                             \
            "stm %[c], {r0, r2, r4, r6}\n\t"                                                   \
            "vldrw.32 q6, [%[c]]\n\t"                                                          \
            "vldrw.32 q7, [%[c], #16]\n\t"                                                     \
            "vadd.i32 q6, q6, q7\n\t"                                                          \
            "vldrw.32 q7, [%[c], #32]\n\t"                                                     \
            "vmulh.s32 q6, q6, q7\n\t"                                                         \
            "vldrw.32 q7, [%[c], #48]\n\t"                                                     \
            "vadd.i32 q6, q6, q7\n\t"                                                          \
            "vldrw.32 q7, [%[c], #64]\n\t"                                                     \
            "vqshl.s32 q6, q6, q7\n\t"                                                         \
            "vshr.s32 q6, q6, #24\n\t"                                                         \
            "vstrb.32 q6, [%[yp]], #4\n\t"                                                     \
            "le lr, 1b"                                                                       \
            : [b] "+r"(b), [yp] "+l"(y)                                                       \
            : [c] "r"(c), [nb] "r"(nb), [nv] "i"(NV), "w"(q0), "w"(q1), "w"(q2), "w"(q3)      \
            : "r0", "r2", "r4", "r6", "q4", "q5", "q6", "q7", "lr", "memory");                \
    }
EF_MVE_AAX_FN(ef_mve_aax2_s8, 2, EF_MVE_AAX_S8)
EF_MVE_AAX_FN(ef_mve_aax3_s8, 3, EF_MVE_AAX_S8)
EF_MVE_AAX_FN(ef_mve_aax4_s8, 4, EF_MVE_AAX_S8)
EF_MVE_AAX_FN(ef_mve_aax2_u8, 2, EF_MVE_AAX_U8)
EF_MVE_AAX_FN(ef_mve_aax3_u8, 3, EF_MVE_AAX_U8)
EF_MVE_AAX_FN(ef_mve_aax4_u8, 4, EF_MVE_AAX_U8)

/* Any k, the 8-bit path: per block the 4 rows b0..b3 = bs + 0, k, 2k, 3k, a tail-predicated
 * loop of 16 k (DLSTP.8: the last pass loads only the lanes below k) of VLDRB of u and 4 x
 * (VLDRB, [VEOR,] VMLADAVA): 10 instructions with LETP per 64 MACs (14 unsigned); then
 * the next block's bs = b3 + kadj (kadj = k - 16 ceil(k / 16)) and EF_MVE_AA_EPI. */
#define EF_MVE_AAK_FN(name, STEP)                                                             \
    static void name(const int8_t *u, const int8_t *b0, int32_t k, int32_t nb, int8_t *y,      \
                     int32x4_t corr, int32x4_t mult, int32x4_t h, int32x4_t sh)               \
    {                                                                                         \
        register int32x4_t q4 __asm__("q4") = mult, q5 __asm__("q5") = h,                     \
                           q6 __asm__("q6") = sh, q7 __asm__("q7") = corr;                    \
        const int32_t kadj = k - (k + 15) / 16 * 16;                                          \
        const int8_t *ap, *b1, *b2, *b3;                                                      \
        __asm__ volatile(                                                                     \
            "vmov.i8 q2, #0x80\n"                                                             \
            "1:\n\t"                                                                          \
            "movs r0, #0\n\t"                                                                 \
            "movs r2, #0\n\t"                                                                 \
            "movs r4, #0\n\t"                                                                 \
            "movs r6, #0\n\t"                                                                 \
            "ldr %[ap], %[u]\n\t"                                                             \
            "add %[b1], %[b0], %[k]\n\t"                                                      \
            "add %[b2], %[b1], %[k]\n\t"                                                      \
            "add %[b3], %[b2], %[k]\n\t"                                                      \
            "dlstp.8 lr, %[k]\n"                                                              \
            "2:\n\t"                                                                          \
            "vldrb.u8 q0, [%[ap]], #16\n\t"                                                   \
            STEP("vmladava", "r0", "b0") STEP("vmladava", "r2", "b1")                         \
            STEP("vmladava", "r4", "b2") STEP("vmladava", "r6", "b3")                         \
            "letp lr, 2b\n\t"                                                                 \
            "ldr %[ap], %[kadj]\n\t"                                                          \
            "add %[b0], %[b3], %[ap]\n\t"                                                     \
            EF_MVE_AA_EPI                                                                     \
            "subs %[nb], %[nb], #1\n\t"                                                       \
            "bne 1b"                                                                          \
            : [b0] "+r"(b0), [yp] "+l"(y), [nb] "+r"(nb), [ap] "=&r"(ap), [b1] "=&r"(b1),     \
              [b2] "=&r"(b2), [b3] "=&r"(b3)                                                  \
            : [u] "m"(u), [kadj] "m"(kadj), [k] "r"(k), "w"(q4), "w"(q5), "w"(q6), "w"(q7)    \
            : "r0", "r2", "r4", "r6", "q0", "q1", "q2", "q3", "lr", "cc", "memory");           \
    }
EF_MVE_AAK_FN(ef_mve_aak_s8, EF_MVE_AA_S8)
EF_MVE_AAK_FN(ef_mve_aak_u8, EF_MVE_AA_U8)

/* sum_q u[q] * b[q] for q < k, u and b int8 (uns: u as uint8, b + 128 as uint8). */
static int32_t ef_mve_dot8(const int8_t *u, const int8_t *b, int32_t k, int uns)
{
    const uint8x16_t flip = vdupq_n_u8(0x80);
    int32_t q, acc = 0;
    for (q = 0; q < k; q += 16) {
        const mve_pred16_t t = vctp8q((uint32_t)(k - q));
        const uint8x16_t bv = vldrbq_z_u8((const uint8_t *)b + q, t);
        if (uns)
            acc = (int32_t)vmladavaq_p_u8((uint32_t)acc, vldrbq_z_u8((const uint8_t *)u + q, t), veorq_u8(bv, flip), t);
        else
            acc = vmladavaq_p_s8(acc, vldrbq_z_s8(u + q, t), vreinterpretq_s8_u8(bv), t);
    }
    return acc;
}

/* One row of a @ bᵀ: acc_j = sum_q (a[q] - azp) (bt[j][q] - bzp) = corr + u . bt[j] with
 * u = a - azp, in the narrowest form its values allow (one pass of VMINV/VMAXV over a):
 * int8 (VMLADAV.S8, corr = -bzp sum u: always so when azp == 0, u is then a itself), else
 * uint8 when 0 <= u <= 255 (a softmax's output, azp = -128: VMLADAV.U8 on b + 128, corr =
 * -(128 + bzp) sum u), else int16 (ef_mve_aa_blocks). Each form's sums are the reference's
 * integers (mod 2^32, as the reference's own int32 sums). */
static __attribute__((noinline)) void
ef_mve_aa_row(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t azp, int32_t bzp, int32_t mult,
              int32_t h, int32_t s, int16_t *scratch, int8_t *y)
{
    const int32_t nb = n >> 2;
    int8_t *u8 = (int8_t *)scratch;
    const int8_t *u = a;
    int32_t j = n & ~3, lo = -128, hi = 127, sum = 0, usum = 0, corr, uns = 0;
    if (azp != 0) {   /* one pass: u = a - azp as bytes (mod 256), its sums as int8 and uint8, a's range */
        register int32_t rs __asm__("r4") = 0, ru __asm__("r6") = 0;
        int32_t mn = 127, mx = -128;
        const int8_t *ap = a;
        int8_t *up = u8;
        __asm__ volatile(
            "dlstp.8 lr, %[k]\n"
            "1:\n\t"
            "vldrb.8 q0, [%[ap]], #16\n\t"
            "vminv.s8 %[mn], q0\n\t"
            "vmaxv.s8 %[mx], q0\n\t"
            "vsub.i8 q1, q0, %[zp]\n\t"
            "vstrb.8 q1, [%[up]], #16\n\t"
            "vaddva.s8 %[rs], q1\n\t"
            "vaddva.u8 %[ru], q1\n\t"
            "letp lr, 1b"
            : [ap] "+r"(ap), [up] "+r"(up), [mn] "+r"(mn), [mx] "+r"(mx), [rs] "+r"(rs), [ru] "+r"(ru)
            : [k] "r"(k), [zp] "r"(azp)
            : "q0", "q1", "lr", "memory");
        lo = (int8_t)mn - azp, hi = (int8_t)mx - azp, u = u8, sum = rs, usum = ru;
    } else {
        register int32_t rs __asm__("r4") = 0;
        const int8_t *ap = a;
        __asm__ volatile(
            "dlstp.8 lr, %[k]\n"
            "1:\n\t"
            "vldrb.8 q0, [%[ap]], #16\n\t"
            "vaddva.s8 %[rs], q0\n\t"
            "letp lr, 1b"
            : [ap] "+r"(ap), [rs] "+r"(rs)
            : [k] "r"(k)
            : "q0", "lr", "memory");
        sum = rs;
    }
    uns = lo < -128 || hi > 127;
    if (uns && (lo < 0 || hi > 255)) {   /* int16 */
        corr = -bzp * ef_mve_widen_zp(a, k, azp, scratch);
        j = 0;
        if (!(k & 7)) {
            if (nb > 0)
                ef_mve_aa_blocks(scratch, bt, k, nb, y, vdupq_n_s32(corr), vdupq_n_s32(mult), vdupq_n_s32(h),
                                 vdupq_n_s32(24 - s));
            j = n & ~3;
        }
        for (; j < n; ++j) {
            const int64_t prod = (int64_t)ef_mve_dot_s16_s8(scratch, bt + (size_t)j * k, 1, k, corr) * mult;
            const int32_t t = (h + (int32_t)(prod >> 32)) >> s;
            y[j] = (int8_t)(t < -128 ? -128 : t > 127 ? 127 : t);
        }
        return;
    }
    if (uns) sum = usum;
    corr = -(bzp + (uns ? 128 : 0)) * sum;
    if (nb > 0) {
        const int32x4_t vc = vdupq_n_s32(corr), vm = vdupq_n_s32(mult), vh = vdupq_n_s32(h),
                        vs = vdupq_n_s32(24 - s);
        if (k == 16) {
            (uns ? ef_mve_aa16_u8 : ef_mve_aa16_s8)(u, bt, nb, y, vc, vm, vh, vs);
        } else if (!(k & 15) && k <= 64) {
            static void (*const fns[2][3])(const int8_t *, const int8_t *, int32_t, int32_t, int8_t *,
                                           const int32_t *) = {
                {ef_mve_aax2_s8, ef_mve_aax3_s8, ef_mve_aax4_s8}, {ef_mve_aax2_u8, ef_mve_aax3_u8, ef_mve_aax4_u8}};
            int32_t c[20];
            vst1q_s32(c + 4, vc), vst1q_s32(c + 8, vm), vst1q_s32(c + 12, vh), vst1q_s32(c + 16, vs);
            fns[uns][(k >> 4) - 2](u, bt, k, nb, y, c);
        } else
            (uns ? ef_mve_aak_u8 : ef_mve_aak_s8)(u, bt, k, nb, y, vc, vm, vh, vs);
    }
    for (; j < n; ++j) {
        const int64_t prod = (int64_t)(corr + ef_mve_dot8(u, bt + (size_t)j * k, k, uns)) * mult;
        const int32_t t = (h + (int32_t)(prod >> 32)) >> s;
        y[j] = (int8_t)(t < -128 ? -128 : t > 127 ? 127 : t);
    }
}

void ef_mve_aa_row_t(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t azp, int32_t bzp,
                     int32_t mult, int32_t h, int32_t s, int16_t *scratch, int8_t *y)
{
    ef_mve_aa_row(a, bt, k, n, azp, bzp, mult, h, s, scratch, y);
}

/* The heads of ef_mve_aa_t_heads in one asm block for a_zp == -128 (a softmax's output:
 * u = a + 128 = a ^ 0x80 always fits uint8), k = 16 nv <= 64, n % 4 == 0 (attention x V):
 * per head u's nv chunks by VLDRB + VEOR into q0..q3 and their sum by VADDV(A).U8, corr =
 * -(128 + b_zp) sum u in a core register (VADD.I32 by scalar, as h), then ef_mve_aax's
 * unsigned blocks; about 9 + 3 nv instructions a head besides the blocks. c as ef_mve_aax's
 * (buffer, -, mult, h, 24 - s), then sa, sb, -(128 + b_zp), nb at c + 80, 84, 88, 92. */
#define EF_MVE_AAXH_LD(q, off)                                                                \
    "vldrb.u8 " q ", [%[a], #" off "]\n\t" "veor " q ", " q ", q5\n\t" "vaddva.u8 r0, " q "\n\t"
#define EF_MVE_AAXH_FN(name, NV)                                                              \
    static void name(const int8_t *a, const int8_t *bh, int32_t nb, int32_t heads, int8_t *y, int32_t *c) \
    {                                                                                         \
        const int8_t *b;                                                                      \
        const int32_t hh = c[12];                                                             \
        int32_t t;                                                                            \
        c[23] = nb;                                                                           \
        __asm__ volatile(                                                                     \
            "vmov.i8 q5, #0x80\n"                                                             \
            "2:\n\t"                                                                          \
            "movs r0, #0\n\t"                                                                 \
            EF_MVE_AAXH_LD("q0", "0")                                                         \
            ".if %c[nv] > 1\n\t" EF_MVE_AAXH_LD("q1", "16") ".endif\n\t"                      \
            ".if %c[nv] > 2\n\t" EF_MVE_AAXH_LD("q2", "32") ".endif\n\t"                      \
            ".if %c[nv] > 3\n\t" EF_MVE_AAXH_LD("q3", "48") ".endif\n\t"                      \
            "ldr %[t], [%[c], #80]\n\t"                                                        \
            "add %[a], %[a], %[t]\n\t"                                                         \
            "mov %[b], %[bh]\n\t"                                                              \
            "ldr %[t], [%[c], #84]\n\t"                                                        \
            "add %[bh], %[bh], %[t]\n\t"                                                       \
            "ldr lr, [%[c], #92]\n\t"                                                          \
            "ldr %[t], [%[c], #88]\n\t"                                                        \
            "mul %[t], r0, %[t]\n\t"                                                           \
            "dls lr, lr\n"                                                                     \
            "1:\n\t"                                                                          \
            EF_MVE_AAX_OUT(EF_MVE_AAX_U8, "r0") EF_MVE_AAX_OUT(EF_MVE_AAX_U8, "r2")           \
            EF_MVE_AAX_OUT(EF_MVE_AAX_U8, "r4") EF_MVE_AAX_OUT(EF_MVE_AAX_U8, "r6")           \
            "stm %[c], {r0, r2, r4, r6}\n\t"                                                   \
            "vldrw.32 q6, [%[c]]\n\t"                                                          \
            "vadd.i32 q6, q6, %[t]\n\t"                                                        \
            "vldrw.32 q7, [%[c], #32]\n\t"                                                     \
            "vmulh.s32 q6, q6, q7\n\t"                                                         \
            "vadd.i32 q6, q6, %[hh]\n\t"                                                       \
            "vldrw.32 q7, [%[c], #64]\n\t"                                                     \
            "vqshl.s32 q6, q6, q7\n\t"                                                         \
            "vshr.s32 q6, q6, #24\n\t"                                                         \
            "vstrb.32 q6, [%[yp]], #4\n\t"                                                     \
            "le lr, 1b\n\t"                                                                   \
            "subs %[hd], %[hd], #1\n\t"                                                        \
            "bne 2b"                                                                          \
            : [a] "+r"(a), [bh] "+r"(bh), [yp] "+l"(y), [hd] "+r"(heads), [b] "=&r"(b), [t] "=&r"(t) \
            : [c] "r"(c), [hh] "r"(hh), [nv] "i"(NV)                                          \
            : "r0", "r2", "r4", "r6", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "lr", "cc",  \
              "memory");                                                                      \
    }
EF_MVE_AAXH_FN(ef_mve_aaxh2_u8, 2)
EF_MVE_AAXH_FN(ef_mve_aaxh3_u8, 3)
EF_MVE_AAXH_FN(ef_mve_aaxh4_u8, 4)

/* The heads of ef_mve_aa_t_heads in one asm block for k == 16, n % 4 == 0 (QKᵀ of 16-wide
 * heads) when every a - a_zp fits int8: per head VLDRB of a's 16 bytes, VSUB.I8 of a_zp
 * (u = a - a_zp, exact by that condition), VADDV and MUL by -b_zp (corr, splat into q7),
 * then ef_mve_aa16_s8's blocks: 15 instructions a head besides the blocks.
 * c: [0..4) the STM buffer, mult[4], h[4], 24 - s[4], then sa, sb, -b_zp, a_zp. */
static void ef_mve_aa16_heads_s8(const int8_t *a, const int8_t *b, int32_t nb, int32_t heads, int8_t *y,
                                 const int32_t *c)
{
    const int8_t *bp;
    int32_t t;
    __asm__ volatile(
        "vldrw.32 q4, [%[c], #16]\n\t"
        "vldrw.32 q5, [%[c], #32]\n\t"
        "vldrw.32 q6, [%[c], #48]\n"
        "2:\n\t"
        "vldrb.u8 q0, [%[a]]\n\t"
        "ldr %[t], [%[c], #76]\n\t"
        "vsub.i8 q0, q0, %[t]\n\t"
        "ldr %[t], [%[c], #64]\n\t"
        "add %[a], %[a], %[t]\n\t"
        "vaddv.s8 r0, q0\n\t"
        "ldr %[t], [%[c], #72]\n\t"
        "mul r0, r0, %[t]\n\t"
        "vdup.32 q7, r0\n\t"
        "mov %[bp], %[b]\n\t"
        "ldr %[t], [%[c], #68]\n\t"
        "add %[b], %[b], %[t]\n\t"
        "dls lr, %[nb]\n"
        "1:\n\t"
        EF_MVE_AA_S8("vmladav", "r0", "bp") EF_MVE_AA_S8("vmladav", "r2", "bp")
        EF_MVE_AA_S8("vmladav", "r4", "bp") EF_MVE_AA_S8("vmladav", "r6", "bp")
        "stm %[c], {r0, r2, r4, r6}\n\t"
        "vldrw.32 q3, [%[c]]\n\t"
        EF_MVE_AA_EPI_Q3
        "le lr, 1b\n\t"
        "subs %[hd], %[hd], #1\n\t"
        "bne 2b"
        : [a] "+r"(a), [b] "+r"(b), [yp] "+l"(y), [hd] "+r"(heads), [bp] "=&r"(bp), [t] "=&r"(t)
        : [c] "r"(c), [nb] "r"(nb)
        : "r0", "r2", "r4", "r6", "q0", "q1", "q3", "q4", "q5", "q6", "q7", "lr", "cc", "memory");
}

/* ef_mve_aa_t_heads' two one-block paths (QKᵀ of 16-wide heads; attention x V with a_zp -128);
 * returns 0 (nothing done) when neither applies. */
static inline __attribute__((always_inline)) int
ef_mve_aa_heads_fast(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t heads, int32_t sa, int32_t sb,
                     int32_t azp, int32_t bzp, int32_t mult, int32_t h, int32_t s, int8_t *y)
{
    int32_t i;
    if (n < 4 || (n & 3) || heads <= 0) return 0;
    if (k == 16) {
        int32_t c[20], lo = 127, hi = -128;
        if (azp != 0) /* a's range over the heads: a - azp must fit int8 */
            for (i = 0; i < heads; ++i) {
                const int8x16_t v = vldrbq_s8(a + (ptrdiff_t)i * sa);
                lo = vminvq_s8((int8_t)lo, v), hi = vmaxvq_s8((int8_t)hi, v);
            }
        if (lo - azp >= -128 && hi - azp <= 127) {
            for (i = 0; i < 4; ++i) c[4 + i] = mult, c[8 + i] = h, c[12 + i] = 24 - s;
            c[16] = sa, c[17] = sb, c[18] = -bzp, c[19] = azp;
            ef_mve_aa16_heads_s8(a, bt, n >> 2, heads, y, c);
            return 1;
        }
    }
    if (azp == -128 && !(k & 15) && k >= 32 && k <= 64) {
        static void (*const fns[3])(const int8_t *, const int8_t *, int32_t, int32_t, int8_t *, int32_t *) = {
            ef_mve_aaxh2_u8, ef_mve_aaxh3_u8, ef_mve_aaxh4_u8};
        int32_t c[24];
        for (i = 0; i < 4; ++i) c[8 + i] = mult, c[12 + i] = h, c[16 + i] = 24 - s;
        c[20] = sa, c[21] = sb, c[22] = -(128 + bzp);
        fns[(k >> 4) - 2](a, bt, n >> 2, heads, y, c);
        return 1;
    }
    return 0;
}

void ef_mve_aa_t_heads(const int8_t *a, const int8_t *bt, int32_t k, int32_t n, int32_t heads, int32_t sa,
                       int32_t sb, int32_t azp, int32_t bzp, int32_t mult, int32_t h, int32_t s,
                       int16_t *scratch, int8_t *y)
{
    int32_t i;
    if (ef_mve_aa_heads_fast(a, bt, k, n, heads, sa, sb, azp, bzp, mult, h, s, y)) return;
    for (i = 0; i < heads; ++i, a += sa, bt += sb, y += n)
        ef_mve_aa_row(a, bt, k, n, azp, bzp, mult, h, s, scratch, y);
}

int ef_mve_aa_heads(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    return ef_mve_aa_heads_fast(a, b, p->k, p->n, p->batch_shape[0], p->a_stride[0], p->b_stride[0], p->a_zp,
                                p->b_zp, p->mult, p->h, -1 - p->shift, y);
}

/* The epilogue of one block of ef_qfc_rows_s8's stream on its 4 sums r0, r2, r4, r6, as one
 * vector (q5: STM to a 16-byte buffer and VLDRW, 2 instructions where single-lane VMOVs take
 * 4; the two-lane form's register order differs between GNU as and QEMU), its vectors read
 * from wp through q6: VMULH by mult is SMMUL, + h, then VQSHL
 * by 24 - s and VSHR #24 give floor(v / 2^s) saturated to int8 (v << (24 - s) saturates
 * exactly when v >> s leaves int8; a negative count shifts right). With the second stage
 * (two, a fused Add): * A + B, then VQSHL #8 and VSHR #24, ssat8(v >> 16) likewise. STM,
 * VLDRW, 7 (12) more and VSTRB.32 of the 4 bytes. */
#define EF_MVE_FC_EPI                            \
    "stm %[buf], {r0, r2, r4, r6}\n\t"           \
    "vldrw.32 q5, [%[buf]]\n\t"                  \
    "vldrw.32 q6, [%[wp]], #16\n\t"              \
    "vmulh.s32 q5, q5, q6\n\t"                   \
    "vldrw.32 q6, [%[wp]], #16\n\t"              \
    "vadd.i32 q5, q5, q6\n\t"                    \
    "vldrw.32 q6, [%[wp]], #16\n\t"              \
    "vqshl.s32 q5, q5, q6\n\t"                   \
    "vshr.s32 q5, q5, #24\n\t"                   \
    ".if %c[two]\n\t"                            \
    "vldrw.32 q6, [%[wp]], #16\n\t"              \
    "vmul.i32 q5, q5, q6\n\t"                    \
    "vldrw.32 q6, [%[wp]], #16\n\t"              \
    "vadd.i32 q5, q5, q6\n\t"                    \
    "vqshl.s32 q5, q5, #8\n\t"                   \
    "vshr.s32 q5, q5, #24\n\t"                   \
    ".endif\n\t"                                 \
    "vstrb.32 q5, [%[yp]], #4\n\t"

/* The 4 outputs' 16 weights of one chunk of 16 k against x's chunk in q: 4 x (VLDRB from
 * the one stream pointer, VMLADAVA.S8 into the output's accumulator). */
#define EF_MVE_FC_CHUNK(q)                               \
    "vldrb.8 q4, [%[wp]], #16\n\t"                       \
    "vmladava.s8 r0, " q ", q4\n\t"                      \
    "vldrb.8 q4, [%[wp]], #16\n\t"                       \
    "vmladava.s8 r2, " q ", q4\n\t"                      \
    "vldrb.8 q4, [%[wp]], #16\n\t"                       \
    "vmladava.s8 r4, " q ", q4\n\t"                      \
    "vldrb.8 q4, [%[wp]], #16\n\t"                       \
    "vmladava.s8 r6, " q ", q4\n\t"

/* k <= 64: x's nv = ceil(k / 16) chunks stay in q0..q3 for the whole row (loaded once, the
 * last under a VCTP predicate; weights past k are zeros), so a block is LDM of the 4 folded
 * biases into the accumulators, nv x EF_MVE_FC_CHUNK, EF_MVE_FC_EPI and LE: 8 nv + 12 (17)
 * instructions, no inner loop. */
#define EF_MVE_FC_X_FN(name, NV, TWO)                                                          \
    static void name(const int8_t *x, int32_t k, const int32_t *ws, int32_t nb, int8_t *y)     \
    {                                                                                          \
        const int32_t full = k == 16 * NV; /* whole chunks: plain loads */                    \
        register int8x16_t q0 __asm__("q0") = NV > 1 || full ? vldrbq_s8(x) : vldrbq_z_s8(x, vctp8q((uint32_t)k)); \
        register int8x16_t q1 __asm__("q1") = NV < 2 ? vdupq_n_s8(0) : NV > 2 || full ? vldrbq_s8(x + 16) \
                                              : vldrbq_z_s8(x + 16, vctp8q((uint32_t)(k - 16)));   \
        register int8x16_t q2 __asm__("q2") = NV < 3 ? vdupq_n_s8(0) : NV > 3 || full ? vldrbq_s8(x + 32) \
                                              : vldrbq_z_s8(x + 32, vctp8q((uint32_t)(k - 32)));   \
        register int8x16_t q3 __asm__("q3") = NV < 4 ? vdupq_n_s8(0) : full ? vldrbq_s8(x + 48)    \
                                              : vldrbq_z_s8(x + 48, vctp8q((uint32_t)(k - 48)));   \
        int32_t buf[4];                                                                        \
        __asm__ volatile(                                                                      \
            "dls lr, %[nb]\n"                                                                  \
            "1:\n\t"                                                                           \
            "ldmia %[wp]!, {r0, r2, r4, r6}\n\t"                                               \
            EF_MVE_FC_CHUNK("q0")                                                              \
            ".if %c[nv] > 1\n\t" EF_MVE_FC_CHUNK("q1") ".endif\n\t"                            \
            ".if %c[nv] > 2\n\t" EF_MVE_FC_CHUNK("q2") ".endif\n\t"                            \
            ".if %c[nv] > 3\n\t" EF_MVE_FC_CHUNK("q3") ".endif\n\t"                            \
            EF_MVE_FC_EPI                                                                      \
            "le lr, 1b"                                                                        \
            : [wp] "+r"(ws), [yp] "+l"(y)                                                      \
            : [nb] "r"(nb), [nv] "i"(NV), [two] "i"(TWO), [buf] "r"(buf), "w"(q0), "w"(q1),    \
              "w"(q2), "w"(q3)                                                                 \
            : "r0", "r2", "r4", "r6", "q4", "q5", "q6", "lr", "memory");                      \
    }
EF_MVE_FC_X_FN(ef_mve_fc_x1, 1, 0)
EF_MVE_FC_X_FN(ef_mve_fc_x2, 2, 0)
EF_MVE_FC_X_FN(ef_mve_fc_x3, 3, 0)
EF_MVE_FC_X_FN(ef_mve_fc_x4, 4, 0)
EF_MVE_FC_X_FN(ef_mve_fc_x1a, 1, 1)
EF_MVE_FC_X_FN(ef_mve_fc_x2a, 2, 1)
EF_MVE_FC_X_FN(ef_mve_fc_x3a, 3, 1)
EF_MVE_FC_X_FN(ef_mve_fc_x4a, 4, 1)

/* 64 < k <= 128 (nv = ceil(k / 16) = 5..8 chunks): x's first 4 chunks stay in q0..q3, the
 * others are read again each block into q7 at immediate offsets (the last under the VCTP
 * predicate P0 set once: no byte past k is read), so a block is 8 nv + 5 (nv - 4) + 13 (18)
 * instructions where the loop takes 10 nv + 19. */
#define EF_MVE_FC_XR(c)                                                                        \
    ".if %c[nv] > " #c "\n\t"                                                                  \
    ".if %c[nv] == " #c " + 1\n\tvpst\n\tvldrbt.8 q7, [%[x], #(16 * " #c ")]\n\t"                \
    ".else\n\tvldrb.8 q7, [%[x], #(16 * " #c ")]\n\t.endif\n\t" EF_MVE_FC_CHUNK("q7") ".endif\n\t"
#define EF_MVE_FC_X8_FN(name, NV, TWO)                                                         \
    static void name(const int8_t *x, int32_t k, const int32_t *ws, int32_t nb, int8_t *y)     \
    {                                                                                          \
        register int8x16_t q0 __asm__("q0") = vldrbq_s8(x);                                   \
        register int8x16_t q1 __asm__("q1") = vldrbq_s8(x + 16);                              \
        register int8x16_t q2 __asm__("q2") = vldrbq_s8(x + 32);                              \
        register int8x16_t q3 __asm__("q3") = vldrbq_s8(x + 48);                              \
        const int32_t kl = k - 16 * (NV - 1);                                                  \
        int32_t buf[4];                                                                        \
        __asm__ volatile(                                                                      \
            "vctp.8 %[kl]\n\t"                                                                 \
            "dls lr, %[nb]\n"                                                                  \
            "1:\n\t"                                                                           \
            "ldmia %[wp]!, {r0, r2, r4, r6}\n\t"                                               \
            EF_MVE_FC_CHUNK("q0") EF_MVE_FC_CHUNK("q1") EF_MVE_FC_CHUNK("q2") EF_MVE_FC_CHUNK("q3") \
            EF_MVE_FC_XR(4) EF_MVE_FC_XR(5) EF_MVE_FC_XR(6) EF_MVE_FC_XR(7)                    \
            EF_MVE_FC_EPI                                                                      \
            "le lr, 1b"                                                                        \
            : [wp] "+r"(ws), [yp] "+l"(y)                                                      \
            : [x] "r"(x), [kl] "r"(kl), [nb] "r"(nb), [nv] "i"(NV), [two] "i"(TWO), [buf] "r"(buf), \
              "w"(q0), "w"(q1), "w"(q2), "w"(q3)                                               \
            : "r0", "r2", "r4", "r6", "q4", "q5", "q6", "q7", "lr", "memory");                \
    }
EF_MVE_FC_X8_FN(ef_mve_fc_x5, 5, 0)
EF_MVE_FC_X8_FN(ef_mve_fc_x6, 6, 0)
EF_MVE_FC_X8_FN(ef_mve_fc_x7, 7, 0)
EF_MVE_FC_X8_FN(ef_mve_fc_x8, 8, 0)
EF_MVE_FC_X8_FN(ef_mve_fc_x5a, 5, 1)
EF_MVE_FC_X8_FN(ef_mve_fc_x6a, 6, 1)
EF_MVE_FC_X8_FN(ef_mve_fc_x7a, 7, 1)
EF_MVE_FC_X8_FN(ef_mve_fc_x8a, 8, 1)

/* Any k: per block LDM of the biases, then a tail-predicated loop (DLSTP.8 over k: the last
 * pass loads only the lanes below k) of one VLDRB of x and EF_MVE_FC_CHUNK: 10 instructions
 * with LETP per 64 MACs; then EF_MVE_FC_EPI. */
#define EF_MVE_FC_K_FN(name, TWO)                                                              \
    static void name(const int8_t *x, int32_t k, const int32_t *ws, int32_t nb, int8_t *y)     \
    {                                                                                          \
        const int8_t *xp;                                                                      \
        int32_t buf[4];                                                                        \
        __asm__ volatile(                                                                      \
            "1:\n\t"                                                                           \
            "ldmia %[wp]!, {r0, r2, r4, r6}\n\t"                                               \
            "mov %[xp], %[x]\n\t"                                                              \
            "dlstp.8 lr, %[k]\n"                                                               \
            "2:\n\t"                                                                           \
            "vldrb.8 q0, [%[xp]], #16\n\t"                                                     \
            EF_MVE_FC_CHUNK("q0")                                                              \
            "letp lr, 2b\n\t"                                                                  \
            EF_MVE_FC_EPI                                                                      \
            "subs %[nb], %[nb], #1\n\t"                                                        \
            "bne 1b"                                                                           \
            : [wp] "+r"(ws), [yp] "+l"(y), [nb] "+r"(nb), [xp] "=&r"(xp)                       \
            : [x] "r"(x), [k] "r"(k), [two] "i"(TWO), [buf] "r"(buf)                           \
            : "r0", "r2", "r4", "r6", "q0", "q4", "q5", "q6", "lr", "cc", "memory");           \
    }
EF_MVE_FC_K_FN(ef_mve_fc_k, 0)
EF_MVE_FC_K_FN(ef_mve_fc_ka, 1)

ef_mve_fc_fn *const ef_mve_fc_fns[2][9] = {
    {ef_mve_fc_k, ef_mve_fc_x1, ef_mve_fc_x2, ef_mve_fc_x3, ef_mve_fc_x4, ef_mve_fc_x5, ef_mve_fc_x6,
     ef_mve_fc_x7, ef_mve_fc_x8},
    {ef_mve_fc_ka, ef_mve_fc_x1a, ef_mve_fc_x2a, ef_mve_fc_x3a, ef_mve_fc_x4a, ef_mve_fc_x5a, ef_mve_fc_x6a,
     ef_mve_fc_x7a, ef_mve_fc_x8a}};

static void ef_mve_fc_blocks(const int8_t *x, int32_t k, const int32_t *ws, int32_t nb, int32_t two, int8_t *y)
{
    EF_MVE_FC_FN(k, two)(x, k, ws, nb, y);
}

void ef_mve_fc_rows(const int8_t *x, int32_t k, const int32_t *ws, int32_t n, int32_t two, int8_t *y)
{
    const int32_t nb = n >> 2;
    if (nb > 0) ef_mve_fc_blocks(x, k, ws, nb, two, y);
    if (n & 3) { /* the last, partial block, through 4 bytes of stack */
        int8_t t[4];
        int32_t j;
        ef_mve_fc_blocks(x, k, ws + (size_t)nb * (4 + (k + 15) / 16 * 16 + (two ? 20 : 12)), 1, two, t);
        for (j = 0; j < (n & 3); ++j) y[4 * nb + j] = t[j];
    }
}

/* One strided byte line of ef_mve_strided8 (n >= 1): 8 bytes a step, each side contiguous
 * (VLDRB.U16 / VSTRB.16) or a gather / scatter at the 16-bit offsets ox / oy, the last
 * ones under a VCTP predicate. */
static inline void ef_mve_line8(uint8_t *y, int32_t sy, const uint8_t *x, int32_t sx, int32_t n, uint16x8_t ox,
                                uint16x8_t oy)
{
    const int32_t m = n >> 3;
    int32_t i;
    if (sx == 1) /* each case its own loop: gather or load, scatter or store, 2 adds, LE */
        for (i = 0; i < m; ++i, x += 8, y += 8 * sy) vstrbq_scatter_offset_u16(y, oy, vldrbq_u16(x));
    else if (sy == 1)
        for (i = 0; i < m; ++i, x += 8 * sx, y += 8) vstrbq_u16(y, vldrbq_gather_offset_u16(x, ox));
    else
        for (i = 0; i < m; ++i, x += 8 * sx, y += 8 * sy)
            vstrbq_scatter_offset_u16(y, oy, vldrbq_gather_offset_u16(x, ox));
    if (n & 7) {
        const mve_pred16_t t = vctp16q((uint32_t)(n & 7));
        vstrbq_scatter_offset_p_u16(y, oy, vldrbq_gather_offset_z_u16(x, ox, t), t);
    }
}

int ef_mve_strided8(uint8_t *y, const uint8_t *x, int32_t rank, const int32_t *shape, const int32_t *stride,
                    const int32_t *dst_stride)
{
    const int32_t r = rank - 1, n1 = shape[r], sx1 = stride[r], sy1 = dst_stride[r];
    int32_t n0 = r ? shape[0] : 1;
    const int32_t sx0 = r ? stride[0] : 0, sy0 = r ? dst_stride[0] : 0;
    if ((uint32_t)r > 1u || n0 < 1 || n1 < 1 || sx0 < 0 || sy0 < 0 || sx1 <= 0 || sy1 <= 0 || sx1 >= 8192 ||
        sy1 >= 8192)
        return 0;
    if (y <= x + (size_t)(n0 - 1) * (size_t)sx0 + (size_t)(n1 - 1) * (size_t)sx1 &&
        x <= y + (size_t)(n0 - 1) * (size_t)sy0 + (size_t)(n1 - 1) * (size_t)sy1)
        return 0;
    if (sx1 == 1 && sy1 == 1) {
        if (n1 <= 16) {
            const mve_pred16_t t = vctp8q((uint32_t)n1);
            for (; n0 > 0; --n0, x += sx0, y += sy0) vstrbq_p_u8(y, vldrbq_z_u8(x, t), t);
        } else {
            for (; n0 > 0; --n0, x += sx0, y += sy0) ef_mve_copy_fwd(y, x, (uint32_t)n1);
        }
    } else {
        const uint16x8_t ox = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sx1);
        const uint16x8_t oy = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sy1);
        for (; n0 > 0; --n0, x += sx0, y += sy0) ef_mve_line8(y, sy1, x, sx1, n1, ox, oy);
    }
    return 1;
}

/* 8 bytes a step through ef_mve_line8 (each side contiguous or strided), after the checks. */
int ef_mve_copy8(uint8_t *y, int32_t sy, const uint8_t *x, int32_t sx, int32_t n)
{
    if (n < 8 || sx <= 0 || sy <= 0 || sx >= 8192 || sy >= 8192 ||
        (y <= x + (size_t)(n - 1) * sx && x <= y + (size_t)(n - 1) * sy))
        return 0;
    ef_mve_line8(y, sy, x, sx, n, vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sx),
                 vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sy));
    return 1;
}

/* A tail-predicated loop (DLSTP.8: the last pass touches only the lanes below n) of VLDRB,
 * VEOR of the sign bits (x + 128, the table's index), the byte gather from the table and
 * VSTRB: 5 instructions with LETP per 16 bytes. */
void ef_mve_lut(const int8_t *x, const int8_t *table, int32_t n, int8_t *y)
{
    if (n <= 0) return;
    __asm__ volatile(
        "vmov.i8 q2, #0x80\n\t"
        "dlstp.8 lr, %[n]\n"
        "1:\n\t"
        "vldrb.u8 q0, [%[x]], #16\n\t"
        "veor q0, q0, q2\n\t"
        "vldrb.u8 q1, [%[t], q0]\n\t"
        "vstrb.8 q1, [%[y]], #16\n\t"
        "letp lr, 1b"
        : [x] "+r"(x), [y] "+r"(y)
        : [t] "r"(table), [n] "r"(n)
        : "q0", "q1", "q2", "lr", "memory");
}

/* VMAXV.S8 over 16 bytes a pass of a tail-predicated loop: 3 instructions with LETP. */
static inline __attribute__((always_inline)) int32_t ef_mve_max_s8_i(const int8_t *x, int32_t n)
{
    int32_t top = x[0];
    __asm__ volatile(
        "dlstp.8 lr, %[n]\n"
        "1:\n\t"
        "vldrb.8 q0, [%[x]], #16\n\t"
        "vmaxv.s8 %[top], q0\n\t"
        "letp lr, 1b"
        : [x] "+r"(x), [top] "+r"(top)
        : [n] "r"(n)
        : "q0", "lr", "memory");
    return (int8_t)top;
}

int32_t ef_mve_max_s8(const int8_t *x, int32_t n)
{
    return ef_mve_max_s8_i(x, n);
}

#if EF_MVE_FP
/* The vector-by-scalar float forms (VSUB, VMUL .F32 Qd, Qn, Rm) read the scalar from a core
 * register; the 4 lanes of q0 are s0..s3, so the in-order sums add them one by one. MVE
 * float follows FPSCR like the scalar FPU (round to nearest even out of reset). */
/* Adds q0's four lanes to acc one by one (the reference's order of float sums). */
#define EF_MVE_ACC_Q0                       \
    "vadd.f32 %[acc], %[acc], s0\n\t"       \
    "vadd.f32 %[acc], %[acc], s1\n\t"       \
    "vadd.f32 %[acc], %[acc], s2\n\t"       \
    "vadd.f32 %[acc], %[acc], s3\n\t"

/* The loop of the float steps below over n (%[n]) groups of 4 values: BODY (one group,
 * pointers post-incremented) 4 times a pass of a low-overhead loop (WLS / LE on lr: the asm
 * clobbers lr) while 4 groups are left (%[c] = n / 4 passes), then once a pass for the last
 * n % 4: 1 loop instruction per 16 values. */
#define EF_MVE_BY4(BODY)                    \
    "lsrs %[c], %[n], #2\n\t"               \
    "wls lr, %[c], 3f\n"                     \
    "1:\n\t" BODY BODY BODY BODY              \
    "le lr, 1b\n"                            \
    "3:\n\t"                                 \
    "ands %[n], %[n], #3\n\t"               \
    "beq 5f\n"                               \
    "4:\n\t" BODY                             \
    "subs %[n], %[n], #1\n\t"               \
    "bne 4b\n"                               \
    "5:"

static inline __attribute__((always_inline)) float ef_mve_ln_dq_i(const int8_t *x, int32_t n4, int32_t zp, float xs, float *v, float acc)
{
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrb.s32 q0, [%[x]], #4\n\t"
                   "vsub.i32 q0, q0, %[zp]\n\t"
                   "vcvt.f32.s32 q0, q0\n\t"
                   "vmul.f32 q0, q0, %[xs]\n\t"
                   "vstrw.32 q0, [%[v]], #16\n\t"
                   EF_MVE_ACC_Q0)
        : [x] "+l"(x), [v] "+r"(v), [n] "+r"(n4), [acc] "+t"(acc), [c] "=&r"(c)
        : [zp] "r"(zp), [xs] "r"(xs)
        : "q0", "s0", "s1", "s2", "s3", "cc", "lr", "memory");
    return acc;
}

float ef_mve_ln_dq(const int8_t *x, int32_t n4, int32_t zp, float xs, float *v, float acc)
{
    return ef_mve_ln_dq_i(x, n4, zp, xs, v, acc);
}

static inline __attribute__((always_inline)) float ef_mve_ln_var_i(const float *v, int32_t n4, float mean, float acc)
{
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrw.32 q0, [%[v]], #16\n\t"
                   "vsub.f32 q0, q0, %[m]\n\t"
                   "vmul.f32 q0, q0, q0\n\t"
                   EF_MVE_ACC_Q0)
        : [v] "+r"(v), [n] "+r"(n4), [acc] "+t"(acc), [c] "=&r"(c)
        : [m] "r"(mean)
        : "q0", "s0", "s1", "s2", "s3", "cc", "lr", "memory");
    return acc;
}

float ef_mve_ln_var(const float *v, int32_t n4, float mean, float acc)
{
    return ef_mve_ln_var_i(v, n4, mean, acc);
}

/* q0's 4 floats (s0..s3) divided by ys lane by lane, then ef_q8_t's rounding (VCVTN: to
 * nearest even, saturating, as VCVTR), QADD of the zero point (VQADD) and SSAT #8 as
 * VQSHL #24 then VSHR #24 (saturates exactly outside int8), VSTRB.32 of the 4 bytes. */
#define EF_MVE_Q8_STORE                                                     \
    "vdiv.f32 s0, s0, %[ys]\n\t"                                          \
    "vdiv.f32 s1, s1, %[ys]\n\t"                                          \
    "vdiv.f32 s2, s2, %[ys]\n\t"                                          \
    "vdiv.f32 s3, s3, %[ys]\n\t"                                          \
    "vcvtn.s32.f32 q0, q0\n\t"                                            \
    "vqadd.s32 q0, q0, %[zp]\n\t"                                         \
    "vqshl.s32 q0, q0, #24\n\t"                                           \
    "vshr.s32 q0, q0, #24\n\t"                                            \
    "vstrb.32 q0, [%[y]], #4\n\t"

/* Per 4 outputs: 3 VLDRW, VSUB, VMUL, VMUL, VADD, then EF_MVE_Q8_STORE: 16 instructions and
 * the loop's 2 per 16 values (the scalar ones: 42). */
static inline __attribute__((always_inline)) void ef_mve_ln_out_i(const float *v, const float *g, const float *b, int32_t n4, float mean, float inv,
                   float ys, int32_t zp, int8_t *y)
{
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrw.32 q0, [%[v]], #16\n\t"
                   "vldrw.32 q1, [%[g]], #16\n\t"
                   "vldrw.32 q2, [%[b]], #16\n\t"
                   "vsub.f32 q0, q0, %[m]\n\t"
                   "vmul.f32 q0, q0, %[inv]\n\t"
                   "vmul.f32 q0, q0, q1\n\t"
                   "vadd.f32 q0, q0, q2\n\t"
                   EF_MVE_Q8_STORE)
        : [v] "+r"(v), [g] "+r"(g), [b] "+r"(b), [n] "+r"(n4), [y] "+l"(y), [c] "=&r"(c)
        : [m] "r"(mean), [inv] "r"(inv), [ys] "t"(ys), [zp] "r"(zp)
        : "q0", "q1", "q2", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "cc", "lr",
          "memory");
}

void ef_mve_ln_out(const float *v, const float *g, const float *b, int32_t n4, float mean, float inv,
                   float ys, int32_t zp, int8_t *y)
{
    ef_mve_ln_out_i(v, g, b, n4, mean, inv, ys, zp, y);
}

/* One value group of ef_mve_ln_acc: w = (v - mean) * inv * g + b in that order, then
 * acc = a + w with a the old acc (LDA: VLDRW) or +0 (LDA: VMOV #0, the reference's 0.0f + w). */
#define EF_MVE_LN_ACC(LDA)                  \
    "vldrw.32 q0, [%[v]], #16\n\t"          \
    "vldrw.32 q1, [%[g]], #16\n\t"          \
    "vldrw.32 q2, [%[b]], #16\n\t"          \
    "vsub.f32 q0, q0, %[m]\n\t"             \
    "vmul.f32 q0, q0, %[inv]\n\t"           \
    "vmul.f32 q0, q0, q1\n\t"               \
    "vadd.f32 q0, q0, q2\n\t"               \
    LDA                                     \
    "vadd.f32 q0, q3, q0\n\t"               \
    "vstrw.32 q0, [%[a]], #16\n\t"

/* Per 4 values: 10 instructions and the loop's 2 per 16 (the scalar loop: about 15 a value). */
void ef_mve_ln_acc(const float *v, const float *g, const float *b, int32_t n4, float mean, float inv,
                   int32_t first, float *acc)
{
    int32_t c;
    if (first)
        __asm__ volatile(
            EF_MVE_BY4(EF_MVE_LN_ACC("vmov.i32 q3, #0\n\t"))
            : [v] "+r"(v), [g] "+r"(g), [b] "+r"(b), [n] "+r"(n4), [a] "+r"(acc), [c] "=&r"(c)
            : [m] "r"(mean), [inv] "r"(inv)
            : "q0", "q1", "q2", "q3", "cc", "lr", "memory");
    else
        __asm__ volatile(
            EF_MVE_BY4(EF_MVE_LN_ACC("vldrw.32 q3, [%[a]]\n\t"))
            : [v] "+r"(v), [g] "+r"(g), [b] "+r"(b), [n] "+r"(n4), [a] "+r"(acc), [c] "=&r"(c)
            : [m] "r"(mean), [inv] "r"(inv)
            : "q0", "q1", "q2", "q3", "cc", "lr", "memory");
}

/* One LayerNorm row with beta, d % 4 == 0 (ef_qint8_fast.c's ef_ln_stats and output stage,
 * the same float operations in the same order): one call where the row took four. */
static inline __attribute__((always_inline)) void ef_mve_ln_row_i(const int8_t *x, int32_t d, int32_t zp, float xs, float eps, const float *g, const float *b,
                   float ys, int32_t yzp, float *v, int8_t *y)
{
    const int32_t n4 = d >> 2;
    float mean = ef_mve_ln_dq_i(x, n4, zp, xs, v, 0.0f), var, inv;
    mean /= (float)d;
    var = ef_mve_ln_var_i(v, n4, mean, 0.0f);
    var /= (float)d;
    inv = 1.0f / sqrtf(var + eps);
    ef_mve_ln_out_i(v, g, b, n4, mean, inv, ys, yzp, y);
}

void ef_mve_ln_row(const int8_t *x, int32_t d, int32_t zp, float xs, float eps, const float *g, const float *b,
                   float ys, int32_t yzp, float *v, int8_t *y)
{
    ef_mve_ln_row_i(x, d, zp, xs, eps, g, b, ys, yzp, v, y);
}

/* Per 4 values: VLDRB.S32, top - x >= 0 (VSUB from the splat q1), a gather of the 4 table words
 * (VLDRW with the offsets scaled by 4), VSTRW to e, 4 VADDs in index order: 8 and the loop's
 * 2 per 16 values (the scalar form: 19). */
static inline __attribute__((always_inline)) float ef_mve_sm_exps_i(const int8_t *x, const float *table, int32_t top, int32_t n4, float *e)
{
    const float *base = table;
    register int32x4_t q1 __asm__("q1") = vdupq_n_s32(top);
    float sum = 0.0f;
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrb.s32 q2, [%[x]], #4\n\t"
                   "vsub.i32 q2, q1, q2\n\t"
                   "vldrw.u32 q0, [%[base], q2, uxtw #2]\n\t"
                   "vstrw.32 q0, [%[e]], #16\n\t"
                   "vadd.f32 %[sum], %[sum], s0\n\t"
                   "vadd.f32 %[sum], %[sum], s1\n\t"
                   "vadd.f32 %[sum], %[sum], s2\n\t"
                   "vadd.f32 %[sum], %[sum], s3\n\t")
        : [x] "+l"(x), [e] "+r"(e), [n] "+r"(n4), [sum] "+t"(sum), [c] "=&r"(c)
        : [base] "r"(base), "w"(q1)
        : "q0", "q2", "s0", "s1", "s2", "s3", "cc", "lr", "memory");
    return sum;
}

float ef_mve_sm_exps(const int8_t *x, const float *table, int32_t top, int32_t n4, float *e)
{
    return ef_mve_sm_exps_i(x, table, top, n4, e);
}

/* Per 4 values: VLDRW, 4 VDIV by the sum, then EF_MVE_Q8_STORE: 14 and the loop's 2 per 16
 * values (the scalar form: 29). The exact form, for ef_mve_sm_out's rare rows. */
static void ef_mve_sm_out_div(const float *e, int32_t n4, float sum, float ys, int32_t zp, int8_t *y)
{
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrw.32 q0, [%[e]], #16\n\t"
                   "vdiv.f32 s0, s0, %[sum]\n\t"
                   "vdiv.f32 s1, s1, %[sum]\n\t"
                   "vdiv.f32 s2, s2, %[sum]\n\t"
                   "vdiv.f32 s3, s3, %[sum]\n\t"
                   EF_MVE_Q8_STORE)
        : [e] "+r"(e), [n] "+r"(n4), [y] "+l"(y), [c] "=&r"(c)
        : [sum] "t"(sum), [ys] "t"(ys), [zp] "r"(zp)
        : "q0", "s0", "s1", "s2", "s3", "cc", "lr", "memory");
}

/* The largest float below 1/2 that ef_mve_sm_out's proof allows for |t - rint(t)|: 1/2 - 2^-13
 * (its bits; non-negative floats order as their bits). */
#define EF_MVE_SM_SAFE 0x3efff000u

/* Softmax's output (and pooled LayerNorm's: e the sums, sum the row count), y[i] =
 * ef_q8_t(q_i, zp) with q_i = fl(fl(e[i] / sum) / ys), two
 * divisions a value lane by lane, computed as t_i = fl(e[i] * r), r = fl(1 / fl(sum * ys)),
 * one VMUL per 4 values, and redone by the divisions (ef_mve_sm_out_div) for the whole row
 * when some t_i lies near a rounding boundary. Proof that elsewhere VCVTN(t_i) = VCVTN(q_i):
 * with u = 2^-24 and no underflow or overflow (p = sum * ys in [2^-100, 2^100]), each of the
 * five roundings is a factor (1 + d), |d| <= u, so t_i / q_i lies in
 * [(1 - u)^2 / (1 + u)^3, (1 + u)^2 / (1 - u)^3] and |t_i - q_i| <= 5.01 u |t_i|. If |t_i| <= 256
 * that is below 2^-13; then |t_i - n| < 1/2 - 2^-13, n = rint(t_i) (the loop's VABD of t_i and
 * float(VCVTN(t_i)), exact: both lie within 1/2 of each other on t_i's grid), puts q_i strictly
 * inside (n - 1/2, n + 1/2), so q_i rounds to n too, ties and all. If |t_i| > 256, |q_i| > 255.9
 * has t_i's sign, both round to 256 or more in size, and with an int8 zp (-128..127) both
 * saturate to the same int8 whatever the check says.
 * NaN: t_i is NaN only where e[i] is, and q_i too; VCVTN gives 0 for both (VMAXNMV skips it).
 * Per 4 values: VLDRW, VMUL, VCVTN, VCVT back, VABD, VMAXNMV (the row's largest distance in a
 * core register), VQADD, the int8 saturation, VSTRB: 10, not 14. */
static inline __attribute__((always_inline)) void ef_mve_sm_out_i(const float *e, int32_t n4, float sum, float ys, int32_t zp, int8_t *y)
{
    const float p = sum * ys, r = 1.0f / p;
    const float *e0 = e;
    int8_t *y0 = y;
    uint32_t far = 0; /* +0.0f */
    int32_t c;
    if (!(p >= 0x1p-100f && p <= 0x1p100f) || zp < -128 || zp > 127) {
        ef_mve_sm_out_div(e, n4, sum, ys, zp, y);
        return;
    }
    __asm__ volatile(
        EF_MVE_BY4("vldrw.32 q0, [%[e]], #16\n\t"
                   "vmul.f32 q0, q0, %[r]\n\t"
                   "vcvtn.s32.f32 q1, q0\n\t"
                   "vcvt.f32.s32 q2, q1\n\t"
                   "vabd.f32 q2, q0, q2\n\t"
                   "vmaxnmv.f32 %[far], q2\n\t"
                   "vqadd.s32 q1, q1, %[zp]\n\t"
                   "vqshl.s32 q1, q1, #24\n\t"
                   "vshr.s32 q1, q1, #24\n\t"
                   "vstrb.32 q1, [%[y]], #4\n\t")
        : [e] "+r"(e), [n] "+r"(n4), [y] "+l"(y), [c] "=&r"(c), [far] "+r"(far)
        : [r] "r"(r), [zp] "r"(zp)
        : "q0", "q1", "q2", "cc", "lr", "memory");
    if (far >= EF_MVE_SM_SAFE) ef_mve_sm_out_div(e0, (int32_t)(e - e0) / 4, sum, ys, zp, y0);
}

void ef_mve_sm_out(const float *e, int32_t n4, float sum, float ys, int32_t zp, int8_t *y)
{
    ef_mve_sm_out_i(e, n4, sum, ys, zp, y);
}

/* One softmax row of n (>= 16, n % 4 == 0) values (ef_qsoftmax_s8): its maximum, exponentials
 * and outputs as ef_mve_max_s8, ef_mve_sm_exps and ef_mve_sm_out, in one call. */
static inline __attribute__((always_inline)) void ef_mve_sm_row_i(const int8_t *x, const float *table, int32_t n, float ys, int32_t zp, float *e, int8_t *y)
{
    const int32_t top = ef_mve_max_s8_i(x, n);
    ef_mve_sm_out_i(e, n >> 2, ef_mve_sm_exps_i(x, table, top, n >> 2, e), ys, zp, y);
}

void ef_mve_sm_row(const int8_t *x, const float *table, int32_t n, float ys, int32_t zp, float *e, int8_t *y)
{
    ef_mve_sm_row_i(x, table, n, ys, zp, e, y);
}

/* Per 4 values: VLDRW of x, then EF_MVE_Q8_STORE (4 VDIV by the scale, VCVTN, VQADD of the
 * zero point, the int8 saturation, VSTRB.32): 10 and the loop's 2 per 16 values; the last
 * n % 4 as ef_quant.c does them. rintf(x / s) + zp saturated equals the saturating VCVTN
 * then VQADD: below 2^24 the float sum is exact, above it both saturate the same way. */
void ef_mve_quant_s8(const float *x, int32_t n, float ys, int32_t zp, int8_t *y)
{
    int32_t c, n4 = n >> 2, i;
    if (n4 > 0) {
        __asm__ volatile(
            EF_MVE_BY4("vldrw.32 q0, [%[x]], #16\n\t" EF_MVE_Q8_STORE)
            : [x] "+r"(x), [n] "+r"(n4), [y] "+l"(y), [c] "=&r"(c)
            : [ys] "t"(ys), [zp] "r"(zp)
            : "q0", "s0", "s1", "s2", "s3", "cc", "lr", "memory");
    }
    for (i = 0; i < (n & 3); ++i) {
        const float v = __builtin_rintf(x[i] / ys) + (float)zp;
        y[i] = (int8_t)(v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v));
    }
}

/* Per 4 values: two VLDRB.S32, the two dequantisations (VSUB, VCVT, VMUL each), VADD, then
 * EF_MVE_Q8_STORE: 17 and the loop's 2 per 16 values (the scalar form: about 60). */
static inline __attribute__((always_inline)) void ef_mve_qadd_i(const int8_t *a, const int8_t *b, int32_t n4, int32_t azp, float as, int32_t bzp,
                 float bs, float ys, int32_t yzp, int8_t *y)
{
    int32_t c;
    __asm__ volatile(
        EF_MVE_BY4("vldrb.s32 q0, [%[a]], #4\n\t"
                   "vldrb.s32 q1, [%[b]], #4\n\t"
                   "vsub.i32 q0, q0, %[azp]\n\t"
                   "vsub.i32 q1, q1, %[bzp]\n\t"
                   "vcvt.f32.s32 q0, q0\n\t"
                   "vcvt.f32.s32 q1, q1\n\t"
                   "vmul.f32 q0, q0, %[as]\n\t"
                   "vmul.f32 q1, q1, %[bs]\n\t"
                   "vadd.f32 q0, q0, q1\n\t"
                   EF_MVE_Q8_STORE)
        : [a] "+l"(a), [b] "+l"(b), [n] "+r"(n4), [y] "+l"(y), [c] "=&r"(c)
        : [azp] "r"(azp), [as] "r"(as), [bzp] "r"(bzp), [bs] "r"(bs), [ys] "t"(ys), [zp] "r"(yzp)
        : "q0", "q1", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "cc", "lr", "memory");
}

void ef_mve_qadd(const int8_t *a, const int8_t *b, int32_t n4, int32_t azp, float as, int32_t bzp,
                 float bs, float ys, int32_t yzp, int8_t *y)
{
    ef_mve_qadd_i(a, b, n4, azp, as, bzp, bs, ys, yzp, y);
}

/* The float kernels' Helium paths straight from their params (ef_mve.h): each returns 0
 * (nothing done) where the path does not apply, as the kernel's own test would send it
 * elsewhere. */
int ef_mve_qadd_p(const ef_qbinary_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const int32_t n = p->shape[0];
    if (p->rank != 1 || p->op != EF_QBIN_ADD || p->a_stride[0] != 1 || p->b_stride[0] != 1 || n < 4 || (n & 3))
        return 0;
    ef_mve_qadd_i(a, b, n >> 2, p->a_zp, p->a_scale, p->b_zp, p->b_scale, p->y_scale, p->y_zp, y);
    return 1;
}

int ef_mve_ln_rows(const ef_qlayernorm_params *p, const int8_t *x, const float *g, const float *b, int8_t *y,
                   float *scratch)
{
    const int32_t d = p->size;
    int32_t r;
    if (p->pool_rows != 0 || !b || d < 4 || (d & 3)) return 0;
    for (r = 0; r < p->rows; ++r, x += d, y += d)
        ef_mve_ln_row_i(x, d, p->x_zp, p->x_scale, p->epsilon, g, b, p->y_scale, p->y_zp, scratch, y);
    return 1;
}

int ef_mve_sm_rows(const ef_qsoftmax_params *p, const int8_t *x, const float *table, int8_t *y, float *scratch)
{
    const int32_t n = p->row;
    int32_t r;
    if (n < 16 || (n & 3) || p->x_scale * p->pre_scale < 0.0f) return 0;
    for (r = 0; r < p->rows; ++r, x += n, y += n) ef_mve_sm_row_i(x, table, n, p->y_scale, p->y_zp, scratch, y);
    return 1;
}
#endif /* EF_MVE_FP */
#else
typedef int ef_mve_unused; /* ISO C: a translation unit is never empty */
#endif
