/* Polled UART transmit for the UART read-back image (main_uart.c): no interrupts, no DMA.
 * The driver is chosen at build time from the board file's [uart] table:
 *   EF_UART_CMSDK     ARM CMSDK APB UART (the MPS2 boards, QEMU's -serial)
 *   EF_UART_STM32_V1  STM32F4-style USART (SR/DR)
 *   EF_UART_STM32_V2  STM32F7/H7-style USART (ISR/TDR)
 *   EF_UART_NRF52     nRF52 UART (legacy, TXD + EVENTS_TXDRDY)
 * with EF_UART_BASE, EF_UART_DIV (baud divisor or the nRF BAUDRATE word) and, for the
 * STM32 parts, the clock-enable and pin set-up in EF_UART_SETUP (generated, see cross.py). */
#ifndef EF_UART_H
#define EF_UART_H

#include <stdint.h>

void uart_init(void);
void uart_write(const void *buf, uint32_t len);
void uart_puts(const char *s);

#endif
