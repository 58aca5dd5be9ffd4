/* Profiling hooks for the generated model.c (force-included before it with -include):
 * per-op counts of the cycle source, chained so that ops + gaps add up to the whole run.
 * EF_CYCLES_SYSTICK: SysTick CURRENT, 24-bit down-counter at the core clock (QEMU with
 * -icount: a fixed number of instructions per tick); EF_CYCLES_DWT: DWT CYCCNT (silicon).
 *
 * Every hook is inline and only adds the counter to a per-slot sum (load, load, add, store:
 * no call), so the probes barely touch what they measure; the counts are differences of
 * those sums, taken at the end of each run (ef_prof_run_end, after the run's last reading).
 * Sums of counter values subtract like the values (modulo the counter's width), wraps and all.
 * Slots: ops 0..n-1 (EF_PROFILE_BEGIN/END), then the parts of the fused row loops
 * (export/emit/profile_parts.py): model.c marks where each part starts, every row, with
 * EF_PROFILE_PART(slot), and closes the loop with EF_PROFILE_LOOP(first slot,
 * "op\037module\037role\0...\0"). A slot the build did not size for costs nothing. */
#ifndef EF_PROFILE_H
#define EF_PROFILE_H

#include <stdint.h>

#ifndef EF_PROF_MAX_OPS
#define EF_PROF_MAX_OPS 1
#endif

#if defined(EF_CYCLES_DWT)
#define EF_PROF_COUNTER (*(volatile uint32_t *)0xE0001004u)   /* DWT CYCCNT */
#else
#define EF_PROF_COUNTER (*(volatile uint32_t *)0xE000E018u)   /* SysTick CURRENT */
#endif

void ef_prof_init(void);
void ef_prof_run_begin(void);
void ef_prof_run_end(void);

/* Per slot, this run: the counter summed at each op's begin and end, at each part's marker,
 * at each loop's end; the op names and loop labels (model.c's string literals). */
extern uint32_t ef_prof_begins[EF_PROF_MAX_OPS], ef_prof_ends[EF_PROF_MAX_OPS];
extern uint32_t ef_prof_stamps[EF_PROF_MAX_OPS], ef_prof_loop_ends[EF_PROF_MAX_OPS];
extern const char *ef_prof_names[EF_PROF_MAX_OPS];
extern const char *ef_prof_labels[EF_PROF_MAX_OPS];

#define EF_PROF_SLOT(k) ((k) < EF_PROF_MAX_OPS ? (k) : 0)
#define EF_PROF_ADD(sums, k) ((k) < EF_PROF_MAX_OPS ? (void)(sums[EF_PROF_SLOT(k)] += EF_PROF_COUNTER) : (void)0)

#define EF_PROFILE_BEGIN(i) EF_PROF_ADD(ef_prof_begins, i)
#define EF_PROFILE_END(i, name) \
    ((i) < EF_PROF_MAX_OPS ? (void)(ef_prof_ends[EF_PROF_SLOT(i)] += EF_PROF_COUNTER, \
                                    ef_prof_names[EF_PROF_SLOT(i)] = (name)) : (void)0)
#define EF_PROFILE_PART(k) EF_PROF_ADD(ef_prof_stamps, k)
#define EF_PROFILE_LOOP(first, labels) \
    ((first) < EF_PROF_MAX_OPS ? (void)(ef_prof_loop_ends[EF_PROF_SLOT(first)] += EF_PROF_COUNTER, \
                                        ef_prof_labels[EF_PROF_SLOT(first)] = (labels)) : (void)0)

#endif
