/* Stack high-water mark (stack.c): paint once at the start of main(), read back at the end. */
#ifndef EF_STACK_H
#define EF_STACK_H

#include <stdint.h>

void ef_stack_paint(void);
uint32_t ef_stack_used(void);   /* bytes from the top of the stack to its deepest use so far */

#endif
