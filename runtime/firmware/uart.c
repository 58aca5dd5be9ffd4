/* Polled UART transmit (see uart.h). Registers by offset from EF_UART_BASE. */
#include "uart.h"

#define REG(off) (*(volatile uint32_t *)(EF_UART_BASE + (off)))

/* Board set-up from the board file: {address, mask} pairs ORed in (clock enables) and
 * {address, clear mask, set bits} for pin modes / alternate functions, in order. */
#ifdef EF_UART_SETUP
static const uint32_t uart_setup[][3] = {EF_UART_SETUP};
#endif

void uart_init(void)
{
#ifdef EF_UART_SETUP
    uint32_t i;
    for (i = 0; i < sizeof uart_setup / sizeof uart_setup[0]; ++i) {
        volatile uint32_t *r = (volatile uint32_t *)uart_setup[i][0];
        *r = (*r & ~uart_setup[i][1]) | uart_setup[i][2];
        (void)*r;                                /* read back: the clock is on before use */
    }
#endif
#if defined(EF_UART_CMSDK)
    REG(0x10) = EF_UART_DIV;                     /* BAUDDIV (>= 16) */
    REG(0x08) = 1u;                              /* CTRL: TX enable */
#elif defined(EF_UART_STM32_V1)
    REG(0x08) = EF_UART_DIV;                     /* BRR */
    REG(0x0C) = (1u << 13) | (1u << 3);          /* CR1: UE, TE */
#elif defined(EF_UART_STM32_V2)
    REG(0x0C) = EF_UART_DIV;                     /* BRR */
    REG(0x00) = (1u << 3) | 1u;                  /* CR1: TE, UE */
#elif defined(EF_UART_NRF52)
    REG(0x50C) = EF_UART_TX_PIN;                 /* PSEL.TXD */
    REG(0x524) = EF_UART_DIV;                    /* BAUDRATE */
    REG(0x500) = 4u;                             /* ENABLE */
    REG(0x008) = 1u;                             /* TASKS_STARTTX */
#else
#error "no UART driver selected (EF_UART_CMSDK, EF_UART_STM32_V1, EF_UART_STM32_V2, EF_UART_NRF52)"
#endif
}

static void uart_putc(uint8_t c)
{
#if defined(EF_UART_CMSDK)
    while (REG(0x04) & 1u) {}                    /* STATE.TXFULL */
    REG(0x00) = c;
#elif defined(EF_UART_STM32_V1)
    while (!(REG(0x00) & (1u << 7))) {}          /* SR.TXE */
    REG(0x04) = c;
#elif defined(EF_UART_STM32_V2)
    while (!(REG(0x1C) & (1u << 7))) {}          /* ISR.TXE */
    REG(0x28) = c;
#elif defined(EF_UART_NRF52)
    REG(0x11C) = 0u;                             /* EVENTS_TXDRDY */
    REG(0x51C) = c;                              /* TXD */
    while (!REG(0x11C)) {}
#endif
}

void uart_write(const void *buf, uint32_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    while (len--) uart_putc(*p++);
}

void uart_puts(const char *s)
{
    while (*s) uart_putc((uint8_t)*s++);
}
