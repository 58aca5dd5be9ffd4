/* Profiling hooks for the generated model.c (force-included before it with -include):
 * per-op counts of the cycle source, chained so that ops + gaps add up to the whole run.
 * EF_CYCLES_SYSTICK: SysTick CURRENT, 24-bit down-counter at the core clock (QEMU with
 * -icount: a fixed number of instructions per tick); EF_CYCLES_DWT: DWT CYCCNT (silicon). */
#ifndef EF_PROFILE_H
#define EF_PROFILE_H

#include <stdint.h>

#ifndef EF_PROF_MAX_OPS
#define EF_PROF_MAX_OPS 1
#endif

void ef_prof_init(void);
void ef_prof_begin(int op);
void ef_prof_end(int op, const char *name);
void ef_prof_run_begin(void);
void ef_prof_run_end(void);

#define EF_PROFILE_BEGIN(i) ef_prof_begin(i)
#define EF_PROFILE_END(i, name) ef_prof_end(i, name)

#endif
