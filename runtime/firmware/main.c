/* edgeformer firmware main: host file in, model, host file out, over semihosting.
 *
 * in.bin:  u32 samples, u32 steps, then per sample: steps x input 0 (streaming models) or
 *          every input back to back (steps == 1).
 * out.bin: per sample and step, every output back to back.
 * profile.bin: "EFP1", u32 ops, u32 runs, u32 stack bytes (high-water mark), u64 gap,
 *              u64 counts[ops], names (NUL-ended).
 * Inputs and outputs live in the model's arena where model.h says so (fw_io_init: the
 * model's NAME_input(i)/NAME_output(i)), so the harness holds no copy of them.
 * Streaming models keep their state in the static input buffers 1.. (outside the arena):
 * zeroed at each sample's start, outputs 1.. copied back after every step.
 * Exit status: 0 ok, 1 model error, 2 host I/O error, 4 fault (startup). */
#include <stdint.h>
#include <string.h>

#include "ef_profile.h"
#include "ef_stack.h"
#include "fw_config.h"      /* generated: FW_STREAMING, FW_N_IN/OUT, buffers, byte counts, FW_MODEL_INIT/RUN */
#include "model.h"
#include "semihost.h"

extern uint64_t ef_prof_ops[EF_PROF_MAX_OPS];
extern const char *ef_prof_names[EF_PROF_MAX_OPS];
extern uint64_t ef_prof_gap;
extern uint32_t ef_prof_runs;

static int fail(const char *what, int status)
{
    sh_puts("firmware: ");
    sh_puts(what);
    sh_puts("\n");
    return status;
}

static int write_profile(void)
{
    uint32_t head[4] = {0x31504645u, EF_PROF_MAX_OPS, ef_prof_runs, ef_stack_used()};  /* "EFP1" */
    int fh = sh_open("profile.bin", SH_MODE_WB), i;
    if (fh < 0) return fail("cannot open profile.bin", 2);
    sh_write(fh, head, sizeof head);
    sh_write(fh, &ef_prof_gap, sizeof ef_prof_gap);
    sh_write(fh, ef_prof_ops, sizeof ef_prof_ops);
    for (i = 0; i < EF_PROF_MAX_OPS; ++i) {
        const char *n = ef_prof_names[i] ? ef_prof_names[i] : "";
        sh_write(fh, n, (uint32_t)strlen(n) + 1);
    }
    sh_close(fh);
    return 0;
}

int main(void)
{
    uint32_t head[2], s, t;
    int fin, fout, k, st;
    ef_stack_paint();
    ef_prof_init();
    if (FW_MODEL_INIT() != 0) return fail("model init failed", 1);
    fw_io_init();
    fin = sh_open("in.bin", SH_MODE_RB);
    if (fin < 0) return fail("cannot open in.bin", 2);
    if (sh_read(fin, head, sizeof head) != 0) return fail("in.bin: short header", 2);
    fout = sh_open("out.bin", SH_MODE_WB);
    if (fout < 0) return fail("cannot open out.bin", 2);
    for (s = 0; s < head[0]; ++s) {
        for (k = 1; FW_STREAMING && k < FW_N_IN; ++k) memset(fw_in[k], 0, fw_in_bytes[k]);
        for (t = 0; t < head[1]; ++t) {
            for (k = 0; k < (FW_STREAMING ? 1 : FW_N_IN); ++k)
                if (sh_read(fin, fw_in[k], fw_in_bytes[k]) != 0) return fail("in.bin: short read", 2);
            ef_prof_run_begin();
            st = FW_MODEL_RUN((const void *const *)fw_in, fw_out);
            ef_prof_run_end();
            if (st != 0) {
                sh_puts("firmware: model run failed at node ");
                sh_putu((uint32_t)(st - 1));
                return fail("", 1);
            }
            for (k = 0; k < FW_N_OUT; ++k)
                if (sh_write(fout, fw_out[k], fw_out_bytes[k]) != 0) return fail("out.bin: write failed", 2);
            for (k = 1; FW_STREAMING && k < FW_N_IN && k < FW_N_OUT; ++k)
                memcpy(fw_in[k], fw_out[k], fw_in_bytes[k]);
        }
    }
    sh_close(fin);
    sh_close(fout);
    return write_profile();
}
