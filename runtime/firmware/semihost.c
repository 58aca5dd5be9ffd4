/* Arm semihosting calls: r0 = operation, r1 = pointer to its argument block. */
#include "semihost.h"

#include <string.h>

static uint32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int sh_open(const char *path, int mode)
{
    uint32_t a[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return (int)sh_call(0x01, a);                 /* SYS_OPEN */
}

int sh_close(int fh)
{
    uint32_t a[1] = {(uint32_t)fh};
    return (int)sh_call(0x02, a);                 /* SYS_CLOSE */
}

uint32_t sh_write(int fh, const void *buf, uint32_t len)
{
    uint32_t a[3] = {(uint32_t)fh, (uint32_t)buf, len};
    return sh_call(0x05, a);                      /* SYS_WRITE */
}

uint32_t sh_read(int fh, void *buf, uint32_t len)
{
    uint32_t a[3] = {(uint32_t)fh, (uint32_t)buf, len};
    return sh_call(0x06, a);                      /* SYS_READ */
}

void sh_puts(const char *s)
{
    sh_call(0x04, s);                             /* SYS_WRITE0 */
}

void sh_putu(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    sh_puts(buf + i);
}

void sh_putx(uint32_t v)
{
    char buf[11] = "0x";
    int i;
    for (i = 0; i < 8; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xF];
    buf[10] = 0;
    sh_puts(buf);
}

void sh_exit(int status)
{
    /* SYS_EXIT_EXTENDED: ADP_Stopped_ApplicationExit with the status as exit code. */
    uint32_t a[2] = {0x20026, (uint32_t)status};
    for (;;) sh_call(0x20, a);
}
