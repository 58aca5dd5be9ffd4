/* edgeformer firmware main, UART read-back: test inputs built into flash, model, outputs and
 * the cycle profile streamed out of a UART, for boards flashed without a semihosting debugger
 * (pyOCD, st-flash) and for the same path under QEMU (the MPS2 CMSDK UART on -serial).
 *
 * Stream (little-endian; runtime/uart.py decodes it):
 *   "EFU1", u32 samples, u32 steps, u32 output bytes per step,
 *   per sample and step: 'O' + every output back to back   | 'X' + u32 node (model error, stop)
 *   'P' + u32 n + n bytes of profile.bin (main.c's layout),
 *   'E' + u32 CRC-32 (IEEE, zlib's) of every byte from "EFU1" up to and including 'E'.
 * Streaming models keep their state in the static input buffers 1.., as main.c does. */
#include <stdint.h>
#include <string.h>

#include "ef_profile.h"
#include "ef_stack.h"
#include "fw_config.h"
#include "fw_samples.h"     /* generated: FW_SAMPLES, FW_STEPS, fw_sample_data[] (in flash) */
#include "model.h"
#include "uart.h"
#ifdef EF_SIM_EXIT
#include "semihost.h"
#endif

extern uint64_t ef_prof_ops[EF_PROF_MAX_OPS];
extern const char *ef_prof_names[EF_PROF_MAX_OPS];
extern uint64_t ef_prof_gap;
extern uint32_t ef_prof_runs;

static uint32_t crc = 0xFFFFFFFFu;

static void send(const void *buf, uint32_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t i, b;
    for (i = 0; i < len; ++i) {              /* bitwise CRC-32: no table in flash */
        crc ^= p[i];
        for (b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    }
    uart_write(buf, len);
}

static void send_u32(uint32_t v) { send(&v, 4); }

static void send_profile(void)
{
    uint32_t head[4] = {0x31504645u, EF_PROF_MAX_OPS, ef_prof_runs, ef_stack_used()};  /* "EFP1" */
    uint32_t n = sizeof head + sizeof ef_prof_gap + sizeof ef_prof_ops, i;
    for (i = 0; i < EF_PROF_MAX_OPS; ++i) n += (ef_prof_names[i] ? strlen(ef_prof_names[i]) : 0) + 1;
    send("P", 1);
    send_u32(n);
    send(head, sizeof head);
    send(&ef_prof_gap, sizeof ef_prof_gap);
    send(ef_prof_ops, sizeof ef_prof_ops);
    for (i = 0; i < EF_PROF_MAX_OPS; ++i) {
        const char *s = ef_prof_names[i] ? ef_prof_names[i] : "";
        send(s, (uint32_t)strlen(s) + 1);
    }
}

static int finish(int status)
{
    uint32_t c;
    send("E", 1);
    c = ~crc;
    uart_write(&c, 4);
#ifdef EF_SIM_EXIT
    sh_exit(status);
#else
    (void)status;
    for (;;) __asm volatile("wfi");
#endif
}

int main(void)
{
    const uint8_t *src = fw_sample_data;
    uint32_t s, t, out_bytes = 0;
    int k, st;
    ef_stack_paint();
    uart_init();
    ef_prof_init();
    for (k = 0; k < FW_N_OUT; ++k) out_bytes += fw_out_bytes[k];
    send("EFU1", 4);
    send_u32(FW_SAMPLES);
    send_u32(FW_STEPS);
    send_u32(out_bytes);
    if (FW_MODEL_INIT() != 0) {
        send("X", 1);
        send_u32(0xFFFFFFFFu);
        return finish(1);
    }
    fw_io_init();
    for (s = 0; s < FW_SAMPLES; ++s) {
        for (k = 1; FW_STREAMING && k < FW_N_IN; ++k) memset(fw_in[k], 0, fw_in_bytes[k]);
        for (t = 0; t < FW_STEPS; ++t) {
            for (k = 0; k < (FW_STREAMING ? 1 : FW_N_IN); ++k) {
                memcpy(fw_in[k], src, fw_in_bytes[k]);
                src += fw_in_bytes[k];
            }
            ef_prof_run_begin();
            st = FW_MODEL_RUN((const void *const *)fw_in, fw_out);
            ef_prof_run_end();
            if (st != 0) {
                send("X", 1);
                send_u32((uint32_t)(st - 1));
                return finish(1);
            }
            send("O", 1);
            for (k = 0; k < FW_N_OUT; ++k) send(fw_out[k], fw_out_bytes[k]);
            for (k = 1; FW_STREAMING && k < FW_N_IN && k < FW_N_OUT; ++k)
                memcpy(fw_in[k], fw_out[k], fw_in_bytes[k]);
        }
    }
    send_profile();
    return finish(0);
}
