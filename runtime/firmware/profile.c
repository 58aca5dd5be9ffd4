/* Per-op cycle accounting behind EF_PROFILE_BEGIN/END (see ef_profile.h). */
#include "ef_profile.h"

#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define DEMCR (*(volatile uint32_t *)0xE000EDFC)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0)

uint64_t ef_prof_ops[EF_PROF_MAX_OPS];      /* counts per op, summed over all runs */
const char *ef_prof_names[EF_PROF_MAX_OPS];
uint64_t ef_prof_gap;                        /* counts between ops (call overhead, copies) */
uint32_t ef_prof_runs;
static uint32_t last, begin;

static inline uint32_t now(void)
{
#if defined(EF_CYCLES_DWT)
    return DWT_CYCCNT;
#else
    return SYST_CVR;
#endif
}

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

void ef_prof_run_begin(void) { last = now(); }

void ef_prof_run_end(void)
{
    ef_prof_gap += since(last, now());
    ++ef_prof_runs;
}

void ef_prof_begin(int op)
{
    begin = now();
    ef_prof_gap += since(last, begin);
    (void)op;
}

void ef_prof_end(int op, const char *name)
{
    last = now();
    if (op >= 0 && op < EF_PROF_MAX_OPS) {
        ef_prof_ops[op] += since(begin, last);
        ef_prof_names[op] = name;
    }
}
