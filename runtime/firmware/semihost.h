/* Arm semihosting (bkpt 0xAB): host file I/O and exit, with no libc stdio or heap.
 * Works under QEMU (-semihosting-config enable=on) and through a debug probe (OpenOCD). */
#ifndef EF_SEMIHOST_H
#define EF_SEMIHOST_H

#include <stdint.h>

enum { SH_MODE_RB = 1, SH_MODE_WB = 5 };   /* fopen "rb" / "wb" */

int sh_open(const char *path, int mode);          /* handle, or -1 */
int sh_close(int fh);
/* Bytes NOT transferred (0: all of them), as the semihosting spec defines it. */
uint32_t sh_read(int fh, void *buf, uint32_t len);
uint32_t sh_write(int fh, const void *buf, uint32_t len);
void sh_puts(const char *s);                       /* to the host console */
void sh_putu(uint32_t v);
void sh_putx(uint32_t v);
void sh_exit(int status) __attribute__((noreturn));

#endif
