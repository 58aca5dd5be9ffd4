/* Shared helpers of the fast int8 kernels (ef_qfc.c, ef_qint8_fast.c): the exact
 * requantisation of ef_qlinear.c in fewer instructions, and the DSP-extension primitives
 * (Cortex-M4/M7: SMLAD, SXTB16, SSAT) with portable C stand-ins. */
#ifndef EF_QFAST_H
#define EF_QFAST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define EF_DSP 1
#else
#define EF_DSP 0
#endif

/* 4 bytes from any address (LDR allows unaligned access on v7-M; memcpy says so to C). */
static inline int32_t ef_ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if EF_DSP
/* (sx(b1), sx(b3)): SXTB16 with its free ROR #8, which GCC 12 does not fold itself. */
static inline int32_t ef_sxtb16_ror8(int32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* PKHBT / PKHTB: (lo(a), lo(b)) and (hi(b), hi(a)) halfword packs, which GCC 12 spells as
 * five shifts and ORRs. */
static inline int32_t ef_pkhbt(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t ef_pkhtb(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#endif

/* Reference requantisation (ef_qlinear.c): acc * mult * 2^(shift - 31), half to even. */
static inline int32_t ef_requant_ref(int32_t acc, int32_t mult, int32_t shift)
{
    const int32_t total = 31 - shift;
    const int64_t prod = (int64_t)acc * mult;
    const int64_t half = (int64_t)1 << (total - 1);
    int64_t q = prod >> total;
    const int64_t rem = prod - q * ((int64_t)1 << total);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return (int32_t)q;
}

/* The same value: round half to even of prod / 2^t is (prod + 2^(t-1) - 1 + odd) >> t,
 * odd = bit t of prod. For t = 32 + s, s >= 1 (shift <= -2, every scale below 1/4), that is
 * (hi + 2^(s-1) - 1 + carry) >> s with carry = (lo != 0 || odd): 32-bit work after SMULL.
 * |acc * mult| < 2^62, so hi + 2^(s-1) cannot overflow. Needs 1 <= 31 - shift <= 62. */
/* The fast case with s = -1 - shift >= 1 and rnd = 2^(s-1) - 1 already worked out. */
static inline int32_t ef_requant_s(int32_t acc, int32_t mult, int32_t s, int32_t rnd)
{
    const int64_t prod = (int64_t)acc * mult;
    const int32_t hi = (int32_t)(prod >> 32);
    const uint32_t lo = (uint32_t)prod, odd = (uint32_t)(hi >> s) & 1u;
    return (hi + rnd + ((lo | odd) != 0)) >> s;
}

static inline int32_t ef_requant(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2) return ef_requant_s(acc, mult, -1 - shift, (1 << (-2 - shift)) - 1);
    return ef_requant_ref(acc, mult, shift);
}

/* h + (acc * mult) >> 32 (the high word of the product, floored): one SMMLA, which ACLE
 * has no intrinsic for. */
static inline int32_t ef_smmla(int32_t acc, int32_t mult, int32_t h)
{
#if EF_DSP
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(acc), "r"(mult), "r"(h));
    return r;
#else
    return (int32_t)(((int64_t)acc * mult) >> 32) + h;
#endif
}

/* v saturated to int8 (SSAT #8). */
static inline int32_t ef_sat8(int32_t v)
{
#if EF_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* clamp(q + zp) into [lo, hi], SSAT when the range is all of int8. */
static inline int8_t ef_clamp8(int32_t q, int32_t lo, int32_t hi)
{
#if EF_DSP
    if (lo == -128 && hi == 127) return (int8_t)__ssat(q, 8);
#endif
    return (int8_t)(q < lo ? lo : (q > hi ? hi : q));
}

/* onnxruntime's QuantizeLinear of t = v / scale: saturate(rint(t) + zp), equal to ef_q8 in
 * ef_qint8.c. On Arm: t + 1.5 * 2^23 - 1.5 * 2^23 is rint(t) (half to even) for |t| < 2^22,
 * and every larger |t| saturates anyway (VCVT and QADD saturate), so no compare is needed.
 * With an FPU, VCVTR is rint and the conversion at once (same integral value below 2^31,
 * saturated above, NaN -> 0, as rintf then VCVT). */
static inline int8_t ef_q8_t(float t, int32_t zp)
{
#if EF_DSP && defined(__ARM_FP)
    /* VCVTR rounds by FPSCR's mode, round to nearest even out of reset (and nothing here
     * changes it): rint and the conversion in one instruction, saturating like VCVT. */
    float r;
    int32_t q;
    __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(t));
    memcpy(&q, &r, 4);
    return (int8_t)__ssat(__qadd(q, zp), 8);
#elif EF_DSP
    const float r = (t + 12582912.0f) - 12582912.0f;
    return (int8_t)__ssat(__qadd((int32_t)r, zp), 8);
#else
    int32_t q;
    if (!(t >= -256.0f)) return -128; /* NaN too; the reference leaves NaN undefined */
    if (t > 256.0f) return 127;
    q = (int32_t)rintf(t) + zp;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
#endif
}

#endif /* EF_QFAST_H */
