/* Per-op and per-part cycle accounting behind the EF_PROFILE_* hooks (see ef_profile.h):
 * the hooks sum counter readings per slot during a run; ef_prof_run_end turns the sums into
 * counts, after the run's last reading, so none of this work is counted. */
#include "ef_profile.h"

#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define DEMCR (*(volatile uint32_t *)0xE000EDFC)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0)

uint64_t ef_prof_ops[EF_PROF_MAX_OPS];      /* counts per slot (op, then part), summed over all runs */
const char *ef_prof_names[EF_PROF_MAX_OPS];
uint64_t ef_prof_gap;                        /* counts between ops (call overhead, copies) */
uint32_t ef_prof_runs;
uint32_t ef_prof_begins[EF_PROF_MAX_OPS], ef_prof_ends[EF_PROF_MAX_OPS];
uint32_t ef_prof_stamps[EF_PROF_MAX_OPS], ef_prof_loop_ends[EF_PROF_MAX_OPS];
const char *ef_prof_labels[EF_PROF_MAX_OPS];
static uint32_t ef_prof_run_start;

static inline uint32_t now(void) { return EF_PROF_COUNTER; }

/* Elapsed counts from a to b, wrap-safe (each interval is far below one wrap). */
static inline uint32_t since(uint32_t a, uint32_t b)
{
#if defined(EF_CYCLES_DWT)
    return b - a;
#else
    return (a - b) & 0xFFFFFFu;              /* SysTick counts down */
#endif
}

void ef_prof_init(void)
{
#if defined(EF_CYCLES_DWT)
    DEMCR |= 1u << 24;                       /* TRCENA */
    DWT_LAR = 0xC5ACCE55u;                   /* unlock (Cortex-M7) */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
#else
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u;                           /* enable, core clock, no interrupt */
#endif
}

void ef_prof_run_begin(void) { ef_prof_run_start = now(); }

/* The parts of the loop whose first slot is k, labelled "op\037module\037role\0 ... \0".
 * Part j ran from its marker to part j+1's in every row; the last part to the next row's
 * first marker, and in the last row to the loop's end, whose readings sum to the first
 * marker's sum less the first row's start (~ the loop op's begin) plus the loop's end. */
static int flush_loop(int k)
{
    const char *label = ef_prof_labels[k];
    uint32_t op = 0, j, n = 0;
    while (*label >= '0' && *label <= '9') op = op * 10u + (uint32_t)(*label++ - '0');
    for (label = ef_prof_labels[k]; *label != 0 && k + n < EF_PROF_MAX_OPS; ++n)
        while (*label++ != 0) {}
    if (n == 0 || op >= (uint32_t)k) return 1;
    for (j = 0, label = ef_prof_labels[k]; j < n; ++j) {
        uint32_t to = j + 1 < n ? ef_prof_stamps[k + j + 1]
                                : ef_prof_stamps[k] - ef_prof_begins[op] + ef_prof_loop_ends[k];
        ef_prof_ops[k + j] += since(ef_prof_stamps[k + j], to);
        ef_prof_names[k + j] = label;
        while (*label++ != 0) {}
    }
    for (j = 0; j < n; ++j) ef_prof_stamps[k + j] = 0;
    ef_prof_loop_ends[k] = 0;
    return (int)n;
}

void ef_prof_run_end(void)
{
    uint32_t t = now(), prev = ef_prof_run_start;
    int i, ops = EF_PROF_MAX_OPS;
    for (i = 0; i < EF_PROF_MAX_OPS; ++i)    /* the parts' slots follow the ops' */
        if (ef_prof_labels[i] != 0) {
            ops = i;
            break;
        }
    for (i = 0; i < ops; ++i) {              /* ops run once a run, in slot order */
        if (ef_prof_begins[i] == 0 && ef_prof_ends[i] == 0) continue;   /* not reached */
        ef_prof_gap += since(prev, ef_prof_begins[i]);
        ef_prof_ops[i] += since(ef_prof_begins[i], ef_prof_ends[i]);
        prev = ef_prof_ends[i];
    }
    ef_prof_gap += since(prev, t);
    for (i = ops; i < EF_PROF_MAX_OPS;)
        i += ef_prof_labels[i] != 0 ? flush_loop(i) : 1;
    for (i = 0; i < ops; ++i) ef_prof_begins[i] = ef_prof_ends[i] = 0;
    ++ef_prof_runs;
}
