/* Fast activation x activation matmul (QK^T, attention x V), bit-exact to
 * ef_qmatmul_aa_s8_ref (ef_qlinear.c). Neither operand is known offline, so neither can be
 * packed: a's row is widened once per call row, b is read as it lies. Two layouts of b:
 * row-major k x n (b's columns strided: repacked per row, PKHBT/PKHTB), and bᵀ (n x k,
 * passes/aa_trans_b.py): each output's column is a contiguous run, LDRD + SXTB16 + SMLAD. */
#include "ef_iter.h"
#include "ef_mve.h"
#include "ef_qfast.h"

/* Activation x activation (QK^T, attention x V): b is k x n row-major and changes every
 * call, so it cannot be packed offline. a's row is widened once, zero point subtracted,
 * into (a[k], a[k+1]) pairs; b's zero point leaves as -b_zp * sum(a - a_zp). Two b rows
 * of 4 bytes become four (b[k][j], b[k+1][j]) pairs with PKHBT/PKHTB and SXTB16. */
static int ef_aa_rowmajor(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                          int8_t *y)
{
    const int32_t m = p->m, k = p->k, n = p->n, kh = k / 2, mult = p->mult, yzp = p->y_zp;
    const int32_t fast = p->shift <= -2, s = -1 - p->shift, rnd = fast ? (1 << (s - 1)) - 1 : 0;
    int32_t ap[EF_QFC_KMAX / 2], bi, nb = ef_numel(p->batch_rank, p->batch_shape);
#if EF_DSP
    const int32_t zz = (int32_t)(((uint32_t)p->a_zp & 0xFFFFu) | ((uint32_t)p->a_zp << 16));
#endif
    ef_iter it;
    if (k > EF_QFC_KMAX) return ef_qmatmul_aa_s8_ref(p, a, b, y);
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        const int8_t *pa = a + it.off[0], *pb = b + it.off[1];
        int8_t *py = y + (size_t)bi * m * n;
        int32_t i, j, q;
        for (i = 0; i < m; ++i, pa += k, py += n) {
            int32_t sa = 0, corr;
            q = 0;
#if EF_DSP
            /* 4 bytes at a time: SXTB16 splits (a0, a2) and (a1, a3), SSUB16 takes the zero
             * point off both halves (|a - a_zp| <= 255 fits), PKHBT / PKHTB repair the
             * (a0, a1), (a2, a3) pairs, SMLAD by (1, 1) adds them into the sum. */
            for (; q + 4 <= k; q += 4) {
                const int32_t w = ef_ld32(pa + q);
                const int32_t e = __ssub16(__sxtb16(w), zz), o = __ssub16(ef_sxtb16_ror8(w), zz);
                sa = __smlad(e, 0x00010001, sa);
                sa = __smlad(o, 0x00010001, sa);
                ap[q / 2] = ef_pkhbt(e, o);
                ap[q / 2 + 1] = ef_pkhtb(o, e);
            }
#endif
            for (; q < k; ++q) sa += (int32_t)pa[q] - p->a_zp;
            for (q = 0; q < kh; ++q)
                if (!EF_DSP || 2 * q >= (k & ~3))
                    ap[q] = (int32_t)(((uint32_t)(pa[2 * q] - p->a_zp) & 0xFFFFu) |
                                      ((uint32_t)(pa[2 * q + 1] - p->a_zp) << 16));
            corr = -p->b_zp * sa;
            j = 0;
#if EF_DSP
            /* whole blocks of 4 outputs, k even, the fast requantisation: accumulators stay
             * in registers and the outputs leave straight from them */
            if (!(k & 1) && fast) {
                for (; j + 4 <= n; j += 4) {
                    int32_t a0 = corr, a1 = corr, a2 = corr, a3 = corr;
                    const int8_t *bp = pb + j;
                    const int32_t *pq = ap;
                    for (q = kh; q > 0; --q, bp += 2 * n) {
                        const int32_t w1 = ef_ld32(bp), w2 = ef_ld32(bp + n);
                        const int32_t t = ef_pkhbt(w1, w2), u = ef_pkhtb(w2, w1);
                        const int32_t av = *pq++;
                        a0 = __smlad(av, __sxtb16(t), a0);
                        a1 = __smlad(av, ef_sxtb16_ror8(t), a1);
                        a2 = __smlad(av, __sxtb16(u), a2);
                        a3 = __smlad(av, ef_sxtb16_ror8(u), a3);
                    }
                    py[j] = (int8_t)__ssat(ef_requant_s(a0, mult, s, rnd) + yzp, 8);
                    py[j + 1] = (int8_t)__ssat(ef_requant_s(a1, mult, s, rnd) + yzp, 8);
                    py[j + 2] = (int8_t)__ssat(ef_requant_s(a2, mult, s, rnd) + yzp, 8);
                    py[j + 3] = (int8_t)__ssat(ef_requant_s(a3, mult, s, rnd) + yzp, 8);
                }
            }
#endif
            for (; j < n; j += 4) {
                int32_t acc[4] = {corr, corr, corr, corr}, jj;
                const int8_t *bp = pb + j;
                if (j + 4 <= n) {
#if EF_DSP
                    int32_t a0 = corr, a1 = corr, a2 = corr, a3 = corr;
                    for (q = 0; q < kh; ++q, bp += 2 * n) {
                        const uint32_t w1 = (uint32_t)ef_ld32(bp), w2 = (uint32_t)ef_ld32(bp + n);
                        const int32_t t = (int32_t)((w1 & 0xFFFFu) | (w2 << 16));
                        const int32_t u = (int32_t)((w2 & 0xFFFF0000u) | (w1 >> 16));
                        a0 = __smlad(ap[q], __sxtb16(t), a0);
                        a1 = __smlad(ap[q], ef_sxtb16_ror8(t), a1);
                        a2 = __smlad(ap[q], __sxtb16(u), a2);
                        a3 = __smlad(ap[q], ef_sxtb16_ror8(u), a3);
                    }
                    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
#else
                    for (q = 0; q < kh; ++q, bp += 2 * n) {
                        const int32_t lo = (int16_t)ap[q], hi = ap[q] >> 16;
                        for (jj = 0; jj < 4; ++jj) acc[jj] += lo * bp[jj] + hi * bp[n + jj];
                    }
#endif
                } else {
                    for (q = 0; q < kh; ++q, bp += 2 * n)
                        for (jj = 0; j + jj < n; ++jj)
                            acc[jj] += (int16_t)ap[q] * bp[jj] + (ap[q] >> 16) * bp[n + jj];
                }
                if (k & 1) /* the odd last row */
                    for (jj = 0; jj < 4 && j + jj < n; ++jj)
                        acc[jj] += ((int32_t)pa[k - 1] - p->a_zp) * bp[jj];
                for (jj = 0; jj < 4 && j + jj < n; ++jj)
                    py[j + jj] = ef_clamp8((fast ? ef_requant_s(acc[jj], mult, s, rnd)
                                                 : ef_requant_ref(acc[jj], mult, p->shift)) + yzp,
                                           -128, 127);
            }
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}

/* a's row minus a_zp as int16 pairs in SXTB16 order, (a0, a2) then (a1, a3) per 4 k, for
 * the first k & ~3 values; returns sum(a - a_zp) over all k. */
static int32_t ef_widen_zp(const int8_t *a, int32_t k, int32_t zp, int32_t *ap)
{
    int32_t q = 0, sa = 0;
#if EF_DSP
    const int32_t zz = (int32_t)(((uint32_t)zp & 0xFFFFu) | ((uint32_t)zp << 16));
    for (; q + 4 <= k; q += 4) {
        const int32_t w = ef_ld32(a + q);
        const int32_t e = __ssub16(__sxtb16(w), zz), o = __ssub16(ef_sxtb16_ror8(w), zz);
        sa = __smlad(e, 0x00010001, sa);
        sa = __smlad(o, 0x00010001, sa);
        ap[q / 2] = e, ap[q / 2 + 1] = o;
    }
#else
    (void)ap;
#endif
    for (; q < k; ++q) sa += (int32_t)a[q] - zp;
    return sa;
}

#if EF_DSP
/* 4 SXTB16 + 4 SMLAD: 8 int8 b values (u, v) times a's 4 pairs (r8..r11) into c. */
#define EF_AA_X8(c)                                      \
    "sxtb16 %[t], %[u]\n\t"                              \
    "smlad %[" c "], r8, %[t], %[" c "]\n\t"             \
    "sxtb16 %[t], %[u], ror #8\n\t"                      \
    "smlad %[" c "], r9, %[t], %[" c "]\n\t"             \
    "sxtb16 %[t], %[v]\n\t"                              \
    "smlad %[" c "], r10, %[t], %[" c "]\n\t"            \
    "sxtb16 %[t], %[v], ror #8\n\t"                      \
    "smlad %[" c "], r11, %[t], %[" c "]\n\t"

/* One output leaves: SMMLA with {mult, h} (r8, r9), ASR by s (r10), SSAT, STRB. */
#define EF_AA_OUT(c)                                     \
    "smmla %[" c "], %[" c "], r8, r9\n\t"               \
    "asr %[" c "], %[" c "], r10\n\t"                    \
    "ssat %[" c "], #8, %[" c "]\n\t"                    \
    "strb %[" c "], [%[y]], #1\n\t"

/* pairs * 2 outputs y[j] = q(corr + a . bt[j]) for a fixed k = K (a multiple of 8): the whole
 * row loop in one asm block, k unrolled (.rept), both bᵀ rows read at immediate offsets of
 * one pointer. ap[-4..-1] = {mult, h, s, corr}: after each block LDMDB reloads them into the
 * registers that held a's pairs. Per 2 outputs: 19 instructions per 8 k, then 15. */
#define EF_AA_T_FN(K)                                                                      \
    static void ef_aa_t##K(const int32_t *ap, const int8_t *b0, int8_t *y, int32_t pairs,  \
                           int32_t corr)                                                   \
    {                                                                                      \
        int32_t c0 = corr, c1 = corr, u, v, t;                                             \
        __asm__ volatile(                                                                  \
            "1:\n\t"                                                                       \
            ".set ef_o, 0\n\t"                                                             \
            ".rept " #K " / 8\n\t"                                                         \
            "ldmia %[ap]!, {r8, r9, r10, r11}\n\t"                                         \
            "ldrd %[u], %[v], [%[b0], #ef_o]\n\t" EF_AA_X8("c0")                           \
            "ldrd %[u], %[v], [%[b0], #(ef_o + " #K ")]\n\t" EF_AA_X8("c1")                \
            ".set ef_o, ef_o + 8\n\t"                                                      \
            ".endr\n\t"                                                                    \
            "sub %[ap], %[ap], #(" #K " * 2)\n\t"                                          \
            "ldmdb %[ap], {r8, r9, r10, r11}\n\t"                                          \
            EF_AA_OUT("c0") EF_AA_OUT("c1")                                                \
            "mov %[c0], r11\n\t"                                                           \
            "mov %[c1], r11\n\t"                                                           \
            "add %[b0], %[b0], #(" #K " * 2)\n\t"                                          \
            "subs %[n], %[n], #1\n\t"                                                      \
            "bne 1b"                                                                       \
            : [c0] "+r"(c0), [c1] "+r"(c1), [ap] "+r"(ap), [b0] "+r"(b0), [y] "+r"(y),     \
              [n] "+r"(pairs), [u] "=&r"(u), [v] "=&r"(v), [t] "=&r"(t)                    \
            :                                                                              \
            : "r8", "r9", "r10", "r11", "cc", "memory");                                   \
    }

EF_AA_T_FN(8)
EF_AA_T_FN(16)
EF_AA_T_FN(32)
EF_AA_T_FN(64)
EF_AA_T_FN(128)

/* Two outputs of any k: c0 += a . b0, c1 += a . b1 over the first 8 x g8 values, b0 and b1
 * two rows of bᵀ at any alignment (LDR), ap a's pairs as ef_widen_zp lays them. For the k
 * the fixed-k loops do not cover (attention x V over 49 or 196 tokens, head dims 12, 24,
 * 48, 96): 23 instructions per 16 MACs (LDMIA, 4 LDR, 8 SXTB16, 8 SMLAD, SUBS, BNE). */
static inline void ef_aa_pair(const int32_t *ap, const int8_t *b0, const int8_t *b1, int32_t g8,
                              int32_t *c0p, int32_t *c1p)
{
    int32_t c0 = *c0p, c1 = *c1p, u, v;
    __asm__ volatile(
        "1:\n\t"
        "ldmia %[ap]!, {r8, r9, r10, r11}\n\t"
        "ldr %[u], [%[b0]], #4\n\t"
        "sxtb16 %[v], %[u]\n\t"
        "smlad %[c0], r8, %[v], %[c0]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad %[c0], r9, %[u], %[c0]\n\t"
        "ldr %[u], [%[b0]], #4\n\t"
        "sxtb16 %[v], %[u]\n\t"
        "smlad %[c0], r10, %[v], %[c0]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad %[c0], r11, %[u], %[c0]\n\t"
        "ldr %[u], [%[b1]], #4\n\t"
        "sxtb16 %[v], %[u]\n\t"
        "smlad %[c1], r8, %[v], %[c1]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad %[c1], r9, %[u], %[c1]\n\t"
        "ldr %[u], [%[b1]], #4\n\t"
        "sxtb16 %[v], %[u]\n\t"
        "smlad %[c1], r10, %[v], %[c1]\n\t"
        "sxtb16 %[u], %[u], ror #8\n\t"
        "smlad %[c1], r11, %[u], %[c1]\n\t"
        "subs %[g], %[g], #1\n\t"
        "bne 1b"
        : [c0] "+r"(c0), [c1] "+r"(c1), [ap] "+r"(ap), [b0] "+r"(b0), [b1] "+r"(b1), [g] "+r"(g8),
          [u] "=&r"(u), [v] "=&r"(v)
        :
        : "r8", "r9", "r10", "r11", "cc", "memory");
    *c0p = c0, *c1p = c1;
}

/* The fixed-k row loop for this k, or NULL. */
static void (*ef_aa_t_fn(int32_t k))(const int32_t *, const int8_t *, int8_t *, int32_t, int32_t)
{
    switch (k) {
    case 8: return ef_aa_t8;
    case 16: return ef_aa_t16;
    case 32: return ef_aa_t32;
    case 64: return ef_aa_t64;
    case 128: return ef_aa_t128;
    default: return NULL;
    }
}
#endif

/* One output: the proved SMMLA form when p->h != 0 (ef_kernels.h), else ef_requant. */
static inline int8_t ef_aa_q(int32_t acc, const ef_qmatmul_aa_params *p, int32_t s)
{
    if (p->h) return (int8_t)ef_sat8(ef_smmla(acc, p->mult, p->h) >> s);
    return (int8_t)ef_sat8(ef_requant(acc, p->mult, p->shift) + p->y_zp);
}

/* y = a @ bᵀ for one batch: a (m x k), bt (n x k), y (m x n). */
static void ef_aa_trans(const ef_qmatmul_aa_params *p, const int8_t *pa, const int8_t *bt,
                        int8_t *py)
{
    const int32_t m = p->m, k = p->k, n = p->n, s = -1 - p->shift, bzp = p->b_zp;
    const int32_t k4 = EF_DSP ? k & ~3 : 0;
    int32_t buf[4 + EF_QFC_KMAX / 2], *ap = buf + 4, i, j, q;
#if EF_DSP
    void (*rows)(const int32_t *, const int8_t *, int8_t *, int32_t, int32_t) =
        p->h && !((uintptr_t)bt & 3) ? ef_aa_t_fn(k) : NULL;
    buf[0] = p->mult, buf[1] = p->h, buf[2] = s;
#endif
    for (i = 0; i < m; ++i, pa += k, py += n) {
        const int32_t corr = -bzp * ef_widen_zp(pa, k, p->a_zp, ap);
        j = 0;
#if EF_DSP
        if (rows && n >= 2) {
            buf[3] = corr;
            rows(ap, bt, py, n / 2, corr);
            j = n & ~1;
        }
#endif
#if EF_DSP
        if (!rows && k >= 8) {   /* pairs of outputs: 8-groups in ef_aa_pair, the rest of k here */
            const int32_t k8 = k & ~7;
            for (; j + 2 <= n; j += 2) {
                const int8_t *b0 = bt + (size_t)j * k, *b1 = b0 + k;
                int32_t c0 = corr, c1 = corr;
                ef_aa_pair(ap, b0, b1, k >> 3, &c0, &c1);
                for (q = k8; q < k4; q += 4) {
                    const int32_t w0 = ef_ld32(b0 + q), w1 = ef_ld32(b1 + q);
                    c0 = __smlad(ap[q / 2], __sxtb16(w0), __smlad(ap[q / 2 + 1], ef_sxtb16_ror8(w0), c0));
                    c1 = __smlad(ap[q / 2], __sxtb16(w1), __smlad(ap[q / 2 + 1], ef_sxtb16_ror8(w1), c1));
                }
                for (q = k4; q < k; ++q) {
                    const int32_t d = (int32_t)pa[q] - p->a_zp;
                    c0 += d * b0[q], c1 += d * b1[q];
                }
                py[j] = ef_aa_q(c0, p, s), py[j + 1] = ef_aa_q(c1, p, s);
            }
        }
#endif
        for (; j < n; ++j) {
            const int8_t *b0 = bt + (size_t)j * k;
            int32_t c = corr;
#if EF_DSP
            for (q = 0; q < k4; q += 4) {
                const int32_t w = ef_ld32(b0 + q);
                c = __smlad(ap[q / 2], __sxtb16(w), __smlad(ap[q / 2 + 1], ef_sxtb16_ror8(w), c));
            }
#endif
            for (q = k4; q < k; ++q) c += ((int32_t)pa[q] - p->a_zp) * b0[q];
            py[j] = ef_aa_q(c, p, s);
        }
    }
}

#if EF_MVE
/* Helium, both layouts of b: a's row less its zero point widened once (int16), then each
 * output one VMLADAVA run over b's column, contiguous in bᵀ, gathered (stride n) in a
 * row-major b (ef_mve.c). */
static int ef_aa_mve(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const int32_t m = p->m, k = p->k, n = p->n, s = -1 - p->shift;
    const int32_t sq = p->trans_b ? 1 : n, sj = p->trans_b ? k : 1;
    int16_t a16[EF_QFC_KMAX];
    int32_t bi, i, j, nb = ef_numel(p->batch_rank, p->batch_shape);
    ef_iter it;
    if (p->trans_b && p->h && m == 1 && p->batch_rank == 1) {   /* attention's heads, one query row */
        ef_mve_aa_t_heads(a, b, k, n, nb, p->a_stride[0], p->b_stride[0], p->a_zp, p->b_zp, p->mult, p->h, s,
                          a16, y);
        return EF_OK;
    }
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        const int8_t *pa = a + it.off[0], *pb = b + it.off[1];
        int8_t *py = y + (size_t)bi * m * n;
        for (i = 0; i < m; ++i, pa += k, py += n) {
            int32_t corr;
            if (p->trans_b && p->h) {
                ef_mve_aa_row_t(pa, pb, k, n, p->a_zp, p->b_zp, p->mult, p->h, s, a16, py);
                continue;
            }
            corr = -p->b_zp * ef_mve_widen_zp(pa, k, p->a_zp, a16);
            for (j = 0; j < n; ++j) py[j] = ef_aa_q(ef_mve_dot_s16_s8(a16, pb + (size_t)j * sj, sq, k, corr), p, s);
        }
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}
#endif

int ef_qmatmul_aa_s8(const ef_qmatmul_aa_params *p, const int8_t *a, const int8_t *b,
                     int8_t *y)
{
    int32_t bi, nb;
    ef_iter it;
#if EF_MVE   /* attention's heads of one query row in one asm block (ef_mve.c) */
    if (p->m == 1 && p->trans_b && p->h && p->batch_rank == 1 && ef_mve_aa_heads(p, a, b, y)) return EF_OK;
#endif
    if (p->k > EF_QFC_KMAX) return ef_qmatmul_aa_s8_ref(p, a, b, y);
#if EF_MVE
    if (p->n <= 8192) return ef_aa_mve(p, a, b, y);   /* 7 n fits the gather's 16-bit offsets */
#endif
    if (!p->trans_b) return ef_aa_rowmajor(p, a, b, y);
    nb = ef_numel(p->batch_rank, p->batch_shape);
    ef_iter_init(&it, p->batch_rank);
    for (bi = 0; bi < nb; ++bi) {
        ef_aa_trans(p, a + it.off[0], b + it.off[1], y + (size_t)bi * p->m * p->n);
        ef_iter_next(&it, p->batch_shape, p->a_stride, p->b_stride, NULL);
    }
    return EF_OK;
}
