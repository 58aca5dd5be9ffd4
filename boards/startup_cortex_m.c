/* Minimal Cortex-M start-up for edgeformer firmware (v6-M, v7-M, v8-M, v8.1-M): vector
 * table, .data/.bss set-up, FPU (and MVE) on, main(). Faults print what happened over
 * semihosting and exit with status 4, so a crash in QEMU or on a board ends the run with a
 * message instead of hanging.
 * EF_NO_SEMIHOST (the UART image of a board run without a debugger, where BKPT would itself
 * fault): no semihosting at all; main() reports over the UART, a fault parks the core. */
#include <stdint.h>

#ifndef EF_NO_SEMIHOST
#include "semihost.h"
#endif

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void);
void Fault_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; ++dst) *dst = 0;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR: full access to CP10/CP11 (the FPU, and Helium on the M55) before any float or
     * vector code runs. v6-M (M0/M0+) has no CPACR. */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm volatile("dsb\n\tisb");
#endif
#ifdef EF_NO_SEMIHOST
    main();
    for (;;) __asm volatile("wfi");
#else
    sh_exit(main());
#endif
}

void Fault_Handler(void)
{
#ifdef EF_NO_SEMIHOST
    for (;;) {}   /* the host's UART reader times out and says no trailer came */
#else
#if defined(__ARM_ARCH_6M__)
    uint32_t cfsr = 0, ipsr;   /* v6-M: HardFault only, no CFSR (reading it faults again) */
#else
    uint32_t cfsr = *(volatile uint32_t *)0xE000ED28, ipsr;
#endif
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    sh_puts("firmware fault: exception ");
    sh_putu(ipsr & 0x1FF);
    sh_puts(", CFSR=");
    sh_putx(cfsr);
    sh_puts("\n");
    sh_exit(4);
#endif
}

/* Core exceptions only: the firmware enables no peripheral interrupts. */
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(&_estack), Reset_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,  /* NMI..UsageFault */
    0, 0, 0, 0,
    Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,             /* SVC, DebugMon, PendSV, SysTick */
};
