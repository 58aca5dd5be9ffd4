/* ef_qfc_v6m_s8 (ef_qfc_v6m.h): per 8 k of a block of 4 outputs, 8 LDRB of the row and 32 of
 * the weights, each with an immediate offset, 32 MULS and 32 ADDs: 3.3 instructions per MAC
 * on Thumb-1, where the int16-pair layout costs 7 (each pair unpacked by shifts). */
#include "ef_qfc_v6m.h"

/* (a * b) >> 32 (the high word of the signed product, floored) from four 16 x 16 products:
 * Thumb-1 has no SMULL, and the int64 product would call __aeabi_lmul. Every partial sum
 * stays inside int32 (|a1 * b0 + 0xFFFF| < 2^31, and likewise for u0 * b1). */
static inline int32_t ef_mulhs(int32_t a, int32_t b)
{
    const uint32_t a0 = (uint32_t)a & 0xFFFFu, b0 = (uint32_t)b & 0xFFFFu;
    const int32_t a1 = a >> 16, b1 = b >> 16;
    const int32_t t = a1 * (int32_t)b0 + (int32_t)((a0 * b0) >> 16);
    const int32_t w1 = (int32_t)a0 * b1 + (t & 0xFFFF);
    return a1 * b1 + (t >> 16) + (w1 >> 16);
}

/* ef_qfc_epi_s8's epilogue of one output (ef_epi in ef_qfc.c) in plain C. */
static int8_t ef_v6m_epi(int32_t acc, const int32_t *e)
{
    int32_t q = (ef_mulhs(acc, e[0]) + e[1]) >> (e[3] & 0xFF);
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    q = (q * e[2] + e[3]) >> 16;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

#if defined(__thumb__) && !defined(__thumb2__)
/* One k of the 4 outputs in 13 Thumb-1 instructions: LDRB of the row's byte, then per output
 * LDRB of its weight, MULS, and ADD into its accumulator in r8..r11 (ADD reaches the high
 * registers; LDRB and MULS need the low ones, which the pointers and temporaries keep). */
#define EF_V6M_K(i, o0, o1, o2, o3)                                         \
    "ldrb %[xv], [%[xp], #" i "]\n\t"                                      \
    "ldrb %[t], [%[w], #" o0 "]\n\t"                                       \
    "muls %[t], %[xv], %[t]\n\t"                                           \
    "add r8, %[t]\n\t"                                                     \
    "ldrb %[t], [%[w], #" o1 "]\n\t"                                       \
    "muls %[t], %[xv], %[t]\n\t"                                           \
    "add r9, %[t]\n\t"                                                     \
    "ldrb %[t], [%[w], #" o2 "]\n\t"                                       \
    "muls %[t], %[xv], %[t]\n\t"                                           \
    "add r10, %[t]\n\t"                                                    \
    "ldrb %[t], [%[w], #" o3 "]\n\t"                                       \
    "muls %[t], %[xv], %[t]\n\t"                                           \
    "add r11, %[t]\n\t"

/* The 4 accumulators of a block over kc chunks of 8 k (106 instructions per 32 MACs). */
static void ef_v6m_block(const uint8_t *xp, const uint8_t *w, int32_t kc, int32_t *acc)
{
    register int32_t a0 __asm__("r8") = acc[0], a1 __asm__("r9") = acc[1], a2 __asm__("r10") = acc[2],
                     a3 __asm__("r11") = acc[3];
    int32_t xv, t;
    __asm__ volatile(
        ".syntax unified\n" /* GCC 12 wraps Thumb-1 inline asm in divided syntax */
        "1:\n\t"
        EF_V6M_K("0", "0", "8", "16", "24") EF_V6M_K("1", "1", "9", "17", "25")
        EF_V6M_K("2", "2", "10", "18", "26") EF_V6M_K("3", "3", "11", "19", "27")
        EF_V6M_K("4", "4", "12", "20", "28") EF_V6M_K("5", "5", "13", "21", "29")
        EF_V6M_K("6", "6", "14", "22", "30") EF_V6M_K("7", "7", "15", "23", "31")
        "adds %[xp], #8\n\t"
        "adds %[w], #32\n\t"
        "subs %[kc], #1\n\t"
        "bne 1b"
        : [xp] "+l"(xp), [w] "+l"(w), [kc] "+l"(kc), [xv] "=&l"(xv), [t] "=&l"(t), "+r"(a0), "+r"(a1),
          "+r"(a2), "+r"(a3)
        :
        : "cc", "memory");
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#else
/* The same sums in C (the host, or a Thumb-2 core given this layout). */
static void ef_v6m_block(const uint8_t *xp, const uint8_t *w, int32_t kc, int32_t *acc)
{
    int32_t c, i;
    for (c = 0; c < kc; ++c, xp += 8, w += 32)
        for (i = 0; i < 8; ++i) {
            const int32_t xv = xp[i];
            acc[0] += xv * w[i], acc[1] += xv * w[8 + i], acc[2] += xv * w[16 + i], acc[3] += xv * w[24 + i];
        }
}
#endif

int ef_qfc_v6m_s8(const ef_qfc_params *p, const int8_t *x, const int32_t *ws, int8_t *y)
{
    uint8_t xu[EF_QFC_KMAX];
    const int32_t k = p->k, kc = p->kp / 8, bw = 4 + 8 * kc + 16;
    int32_t r, q, j0, j;
    if (k < 1 || k > EF_QFC_KMAX || p->kp != (k + 7) / 8 * 8) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r, x += k) {
        const int32_t *wb = ws;
        int32_t sum = 0, corr;
        for (q = 0; q < k; ++q) {
            const int32_t u = (int32_t)x[q] + 128;
            xu[q] = (uint8_t)u;
            sum += u;
        }
        for (; q < p->kp; ++q) xu[q] = 0;
        corr = -128 * sum;
        for (j0 = 0; j0 < p->n; j0 += 4, wb += bw) {
            int32_t acc[4] = {wb[0] + corr, wb[1] + corr, wb[2] + corr, wb[3] + corr};
            ef_v6m_block(xu, (const uint8_t *)(wb + 4), kc, acc);
            for (j = 0; j < 4 && j0 + j < p->n; ++j) *y++ = ef_v6m_epi(acc[j], wb + 4 + 8 * kc + 4 * j);
        }
    }
    return EF_OK;
}
