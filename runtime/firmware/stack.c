/* Stack high-water mark: paint the free stack with a pattern before the model runs, read back
 * how deep it was ever written. The linker script puts the stack between _ebss and _estack;
 * ef_stack_used() counts from _estack down to the deepest word that lost the pattern, so it
 * covers start-up, main, the model, its kernels and libm, as the application would run them. */
#include <stdint.h>

#include "ef_stack.h"

#define EF_STACK_PAINT 0xC5A5C5A5u

extern uint32_t _ebss, _estack;

__attribute__((noinline)) void ef_stack_paint(void)
{
    uint32_t *p = &_ebss, *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    sp -= 16;   /* stay clear of this function's own frame */
    while (p < sp) *p++ = EF_STACK_PAINT;
}

uint32_t ef_stack_used(void)
{
    const uint32_t *p = &_ebss;
    while (p < &_estack && *p == EF_STACK_PAINT) ++p;
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}
