/* Spiking layers: the layouts and the arithmetic are in ef_spike.h.
 * ef_spike_fc_s8, event-driven int8 fully-connected: per row, one pass over x lists the
 * events (fired, other); a row where nothing fired copies its precomputed outputs; else per
 * pair of tiles of 8 outputs, 8 int16x2 accumulators take one weight row per fired input
 * (SADD16), and the epilogue multiplies by x_hi - x_lo, adds bias' and the rare other inputs,
 * and requantises exactly as the dense kernels do.
 * ef_lif_s8: a LIF neuron's float glue in one pass (passes/lif_fuse.py). */
#include <string.h>

#include "ef_spike.h"
#include "ef_kernels.h"
#include "ef_qfast.h"

/* Lane-wise int16 addition, wrapping like SADD16 (exact here: |sum| <= 256 * 128). */
static inline int32_t ef_add16(int32_t a, int32_t b)
{
#if EF_DSP
    return __sadd16(a, b);
#else
    const uint32_t lo = ((uint32_t)a + (uint32_t)b) & 0xFFFFu;
    const uint32_t hi = (((uint32_t)a >> 16) + ((uint32_t)b >> 16)) << 16;
    return (int32_t)(hi | lo);
#endif
}

/* Lane j (0 low, 1 high) of an int16 pair. */
static inline int32_t ef_lane(int32_t v, int32_t j)
{
    return j ? v >> 16 : (int32_t)(int16_t)v;
}

/* Events of one row: fired (x == hi) and other (x != lo, x != hi) input indices, 4 silent
 * inputs per word compare. */
static int32_t ef_spike_events(const int8_t *x, int32_t k, int32_t lo, int32_t hi,
                               uint8_t *fired, uint8_t *other, int32_t *n_other)
{
    const uint32_t lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
    int32_t i = 0, nf = 0, no = 0, j;
    for (; i + 4 <= k; i += 4) {
        if (((uint32_t)ef_ld32(x + i) ^ lo4) == 0u) continue;
        for (j = i; j < i + 4; ++j) {
            if (x[j] == hi) fired[nf++] = (uint8_t)j;
            else if (x[j] != lo) other[no++] = (uint8_t)j;
        }
    }
    for (; i < k; ++i) {
        if (x[i] == hi) fired[nf++] = (uint8_t)i;
        else if (x[i] != lo) other[no++] = (uint8_t)i;
    }
    *n_other = no;
    return nf;
}

/* Sum of the fired rows of one tile (k rows of 4 words) in 4 int16x2 accumulators. */
static inline void ef_spike_tile(const int32_t *wt, const uint8_t *f, int32_t nf, int32_t *acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint8_t *end = f + nf;
    while (f < end) {
        const int32_t *w = wt + 4 * (int32_t)*f++;
        a0 = ef_add16(a0, w[0]);
        a1 = ef_add16(a1, w[1]);
        a2 = ef_add16(a2, w[2]);
        a3 = ef_add16(a3, w[3]);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* The same for two neighbouring tiles (wt and wt + tw) in one pass over the fired list: one
 * index load and address for 16 outputs (2 instructions saved a fired input and tile pair). */
static inline void ef_spike_tile2(const int32_t *wt, int32_t tw, const uint8_t *f, int32_t nf,
                                  int32_t *acc, int32_t *acc2)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    const uint8_t *end = f + nf;
    while (f < end) {
        const int32_t *w = wt + 4 * (int32_t)*f++, *v = w + tw;
        a0 = ef_add16(a0, w[0]);
        a1 = ef_add16(a1, w[1]);
        a2 = ef_add16(a2, w[2]);
        a3 = ef_add16(a3, w[3]);
        b0 = ef_add16(b0, v[0]);
        b1 = ef_add16(b1, v[1]);
        b2 = ef_add16(b2, v[2]);
        b3 = ef_add16(b3, v[3]);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    acc2[0] = b0, acc2[1] = b1, acc2[2] = b2, acc2[3] = b3;
}

/* One output from its exact accumulator and chan record. */
static inline int8_t ef_spike_out(const ef_spike_fc_params *p, int32_t acc, const int32_t *r)
{
    return ef_clamp8((r[2] >= 1 ? ef_requant_s(acc, r[1], r[2], r[3])
                                : ef_requant_ref(acc, r[1], -1 - r[2])) + p->y_zp, -128, 127);
}

static int ef_spike_check(const ef_spike_fc_params *p)
{
    return p->k > 0 && p->k <= EF_SPIKE_KMAX && p->n > 0 && p->nt == (p->n + 7) / 8 && p->m >= 0;
}

/* The inputs that are neither level, into the tile's 8 exact accumulators (int32 MACs). */
static void ef_spike_other(const int8_t *x, int32_t lo, const int32_t *wt, const uint8_t *other,
                           int32_t no, int32_t *acc)
{
    int32_t o, i;
    for (o = 0; o < no; ++o) {
        const int32_t v = x[other[o]] - lo, *w = wt + 4 * other[o];
        for (i = 0; i < 4; ++i) {
            acc[2 * i] += v * ef_lane(w[i], 0);
            acc[2 * i + 1] += v * ef_lane(w[i], 1);
        }
    }
}

int ef_spike_fc_s8(const int32_t *ws, const int8_t *x, int8_t *y)
{
    const ef_spike_fc_params *p = (const ef_spike_fc_params *)(const void *)ws;
    const int32_t *rec = ws + 8, *erec = rec + 32 * p->nt, *w = erec + (p->epi ? 32 * p->nt : 0);
    const int32_t d = p->x_hi - p->x_lo, tw = 4 * p->k;
    const int8_t *y0 = (const int8_t *)(const void *)(w + p->nt * tw);
    uint8_t fired[EF_SPIKE_KMAX], other[EF_SPIKE_KMAX];
    int32_t r, t, j, i, no, nf, spikes_only, acc16[8];
    if (!ef_spike_check(p)) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r, x += p->k, y += p->n) {
        nf = ef_spike_events(x, p->k, p->x_lo, p->x_hi, fired, other, &no);
        if (!nf && !no) {   /* a silent row: its outputs are constants */
            memcpy(y, y0, (size_t)p->n);
            continue;
        }
        spikes_only = p->epi && !no;   /* the epi records' proof covers this row */
        for (t = 0; t < p->nt; ++t) {
            const int32_t *wt = w + t * tw, *rt = (spikes_only ? erec : rec) + 32 * t;
            const int32_t jn = p->n - 8 * t < 8 ? p->n - 8 * t : 8;
            int32_t acc[8];
            int8_t *yt = y + 8 * t;
            if (t % 2 == 0) {   /* tiles in pairs; the odd one of a pair was summed with it */
                if (t + 1 < p->nt) ef_spike_tile2(wt, tw, fired, nf, acc16, acc16 + 4);
                else ef_spike_tile(wt, fired, nf, acc16);
            }
            for (i = 0; i < 4; ++i) {
                const int32_t a = acc16[4 * (t % 2) + i];
                acc[2 * i] = rt[8 * i] + d * ef_lane(a, 0);
                acc[2 * i + 1] = rt[8 * i + 4] + d * ef_lane(a, 1);
            }
            if (no) ef_spike_other(x, p->x_lo, wt, other, no, acc);
            if (spikes_only) {
                for (j = 0; j < jn; ++j, rt += 4)
                    yt[j] = (int8_t)ef_sat8(ef_smmla(acc[j], rt[1], rt[2]) >> rt[3]);
            } else {
                for (j = 0; j < jn; ++j) yt[j] = ef_spike_out(p, acc[j], rt + 4 * j);
            }
        }
    }
    return EF_OK;
}

int ef_spike_fc_s8_ref(const int32_t *ws, const int8_t *x, int8_t *y)
{
    const ef_spike_fc_params *p = (const ef_spike_fc_params *)(const void *)ws;
    const int32_t *rec = ws + 8, *w = rec + 32 * p->nt * (p->epi ? 2 : 1);
    int32_t r, j, i;
    if (!ef_spike_check(p)) return EF_ERR_PARAM;
    for (r = 0; r < p->m; ++r, x += p->k, y += p->n) {
        for (j = 0; j < p->n; ++j) {
            const int32_t *wt = w + (j / 8) * 4 * p->k + (j % 8) / 2;
            int32_t acc = rec[4 * j];
            for (i = 0; i < p->k; ++i) acc += (x[i] - p->x_lo) * ef_lane(wt[4 * i], j & 1);
            y[j] = ef_spike_out(p, acc, rec + 4 * j);
        }
    }
    return EF_OK;
}

/* The membrane of elements [0, c) (c <= 32) into v and their fire bits. */
static uint32_t ef_lif_chunk(const ef_lif_params *p, const int8_t *x, const float *v_in,
                             const float *s_in, float *v, int32_t c)
{
    const float sc = p->x_scale, leak = p->leak, one = p->one, th = p->th;
    const int32_t zp = p->x_zp;
    uint32_t bits = 0;
    int32_t i;
    if (!p->state) {
        for (i = 0; i < c; ++i) {
            v[i] = (float)((int32_t)x[i] - zp) * sc;
            bits |= (uint32_t)(v[i] > th) << i;
        }
        return bits;
    }
    for (i = 0; i < c; ++i) {   /* one rounding per statement: no compiler may contract them */
        const float xd = (float)((int32_t)x[i] - zp) * sc, keep = one - s_in[i];
        float m = v_in[i] * leak;
        m = m * keep;
        v[i] = m + xd;
        bits |= (uint32_t)(v[i] > th) << i;
    }
    return bits;
}

/* The LMUFormer's shape of a LIF, in one loop (about 22 instructions a neuron on the M7):
 * a membrane from (v_in, s_in), v wanted, the int8 spike and one float form of it. */
static void ef_lif_state_q1f(const ef_lif_params *p, const int8_t *restrict x,
                             const float *restrict v_in, const float *restrict s_in,
                             float *restrict v_out, int8_t *restrict s_q, float *restrict s_fl,
                             float f_lo, float f_hi)
{
    const float sc = p->x_scale, leak = p->leak, one = p->one, th = p->th;
    const int32_t zp = p->x_zp, n = p->n;
    const int8_t q_lo = (int8_t)p->q_lo, q_hi = (int8_t)p->q_hi;
    int32_t i;
    for (i = 0; i < n; ++i) {   /* one rounding per statement: no compiler may contract them */
        const float xd = (float)((int32_t)x[i] - zp) * sc, keep = one - s_in[i];
        float m = v_in[i] * leak, v;
        m = m * keep;
        v = m + xd;
        v_out[i] = v;
        if (v > th) {
            s_q[i] = q_hi;
            s_fl[i] = f_hi;
        } else {
            s_q[i] = q_lo;
            s_fl[i] = f_lo;
        }
    }
}

/* The smallest int8 q whose membrane (float)(q - x_zp) * x_scale exceeds th, 128 when none
 * does. q - x_zp is exact in float and a product with a positive scale is non-decreasing in
 * it, so v > th <=> q >= that q: the float comparison of every element, decided in 8 probes. */
static int32_t ef_lif_qth(const ef_lif_params *p)
{
    int32_t lo = -128, hi = 128;   /* the answer is in [lo, hi] */
    while (lo < hi) {
        const int32_t mid = lo + ((hi - lo) >> 1);
        if ((float)(mid - p->x_zp) * p->x_scale > p->th) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* A stateless threshold without its membrane wanted (the spiking ViT's MLP): fire = x >= qt
 * in int8; the int8 spike alone 4 at a time on a DSP core (SSUB8 sets GE where x - qt >= 0,
 * SEL picks q_hi there). Each level pair as (lo, lo ^ hi) bit patterns. */
static void ef_lif_int(const ef_lif_params *p, const int8_t *x, float *s_f, int8_t *s_q, float *s_dq,
                       uint32_t ql, uint32_t qx, uint32_t dlo, uint32_t dx)
{
    const int32_t qt = ef_lif_qth(p), n = p->n;
    int32_t i = 0;
#if EF_DSP
    if (s_q && !s_f && !s_dq && qt > -128 && qt < 128) {
        const uint32_t t4 = (uint32_t)(uint8_t)qt * 0x01010101u;
        const uint32_t lo4 = (uint32_t)(uint8_t)p->q_lo * 0x01010101u, hi4 = (uint32_t)(uint8_t)p->q_hi * 0x01010101u;
        for (; i + 4 <= n; i += 4) {
            uint32_t w;
            __asm__("ssub8 %0, %1, %2\n\tsel %0, %3, %4" : "=&r"(w) : "r"(ef_ld32(x + i)), "r"(t4), "r"(hi4),
                    "r"(lo4) : "cc");
            memcpy(s_q + i, &w, 4);
        }
    }
#endif
    for (; i < n; ++i) {
        const uint32_t m = 0u - (uint32_t)(x[i] >= qt);
        if (s_q) s_q[i] = (int8_t)(ql ^ (m & qx));
        if (s_f) { const uint32_t w = m & 0x3F800000u; memcpy(s_f + i, &w, 4); }
        if (s_dq) { const uint32_t w = dlo ^ (m & dx); memcpy(s_dq + i, &w, 4); }
    }
}

/* One LIF step (ef_spike.h), 32 elements at a time: the membrane and its fire bits first
 * (the float ops are the graph's own, in its order, so v is bit-exact to onnxruntime), then
 * each spike form the graph wants from the bits. */
int ef_lif_s8(const int32_t *ws, const int8_t *x, const float *v_in, const float *s_in,
              float *v_out, float *s_f, int8_t *s_q, float *s_dq)
{
    ef_lif_params p;
    float tmp[32];   /* v of a chunk when the graph does not want it */
    int32_t o, i, c;
    uint32_t ql, qx, dlo, dx;
    memcpy(&p, ws, sizeof p);
    if (p.n < 0 || (p.state && (!v_in || !s_in))) return EF_ERR_PARAM;
    /* No output may overlap an input (the planner gives ef.LIF no in-place rule): restrict. */
    if (p.state && v_out && s_q && (!s_f) != (!s_dq)) {
        ef_lif_state_q1f(&p, x, v_in, s_in, v_out, s_q, s_f ? s_f : s_dq,
                         s_f ? 0.0f : p.d_lo, s_f ? 1.0f : p.d_hi);
        return EF_OK;
    }
    /* Each level pair as (lo, lo ^ hi) bit patterns (1.0f is 0x3F800000). */
    ql = (uint32_t)p.q_lo, qx = (uint32_t)(p.q_lo ^ p.q_hi);
    memcpy(&dlo, &p.d_lo, 4);
    memcpy(&dx, &p.d_hi, 4);
    dx ^= dlo;
    if (!p.state && !v_out && p.x_scale > 0.0f) {
        ef_lif_int(&p, x, s_f, s_q, s_dq, ql, qx, dlo, dx);
        return EF_OK;
    }
    for (o = 0; o < p.n; o += 32) {
        uint32_t bits;
        c = p.n - o < 32 ? p.n - o : 32;
        bits = ef_lif_chunk(&p, x + o, p.state ? v_in + o : 0, p.state ? s_in + o : 0,
                            v_out ? v_out + o : tmp, c);
        for (i = 0; i < c; ++i, bits >>= 1) {   /* levels by masks: 3 instructions a form */
            const uint32_t m = 0u - (bits & 1u);
            if (s_q) s_q[o + i] = (int8_t)(ql ^ (m & qx));
            if (s_f) { const uint32_t w = m & 0x3F800000u; memcpy(s_f + o + i, &w, 4); }
            if (s_dq) { const uint32_t w = dlo ^ (m & dx); memcpy(s_dq + o + i, &w, 4); }
        }
    }
    return EF_OK;
}
