"""c/README.md and c/example/main.c: how an embedded engineer uses the exported model."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.clib import Api, provenance_lines
from edgeformer.export.emit.ctx import C_TYPES

PRINTF = {"float32": ("%.9g", "(double)"), "int8": ("%d", "(int)"), "uint8": ("%u", "(unsigned)"),
          "int16": ("%d", "(int)"), "int32": ("%ld", "(long)"), "int64": ("%lld", "(long long)"),
          "bool": ("%u", "(unsigned)")}
EXAMPLE_STEPS = 8


def _io_rows(api: Api) -> list[str]:
    m = api.names.macro
    rows = ["| | name | dtype | shape | bytes | macro |", "|---|---|---|---|---|---|"]
    for kind, ios in (("INPUT", api.inputs), ("OUTPUT", api.outputs)):
        for i, (name, dtype, shape, nbytes) in enumerate(ios):
            rows.append(f"| {kind.lower()} {i} | `{name}` | {dtype} | {list(shape)} | {nbytes:,} | "
                        f"`{m}_{kind}{i}_BYTES` |")
    return rows


def readme(api: Api) -> str:
    n, m, lib = api.names, api.names.macro, api.names.lib
    # Only a streaming model's state stays in the caller's buffers; every other I/O is in the arena.
    io_bytes = sum(2 * s.nbytes for s in api.states)
    state_bytes = sum(s.nbytes for s in api.states)
    header = f"{lib}.h" if n.named and not lib.startswith("ef_") and lib not in ("model", "weights") else "model.h"
    prov = "\n".join(f"> {line}" for line in provenance_lines(api.prov))
    stream = ""
    state_row = f"| of which streaming state | {state_bytes:,} | RAM, yours |\n" if api.streaming else ""
    if api.streaming:
        pairs = "\n".join(f"| `{s.name}` | input {s.inp} | output {s.out} | {s.nbytes:,} |" for s in api.states)
        stream = f"""
## A streaming model: driving its state

This model runs one time step per `{n.sym}_run()` call. Its state lives in **your** buffers:
state input *i* is fed back from state output *j* after every step.

| state | input | output | bytes |
|---|---|---|---|
{pairs}

```c
{n.sym}_reset(inputs);                       /* start of a sequence: every state input to zero */
for (t = 0; t < steps; ++t) {{
    fill_input0(inputs[0], t);              /* this step's features, e.g. one MFCC frame */
    {n.sym}_run((const void *const *)inputs, outputs);
    {n.sym}_carry_state(inputs, outputs);   /* state outputs -> state inputs for the next step */
}}
/* outputs[0] holds the logits after the last step */
```

`{m}_NUM_STATES`, `{m}_STATEk_INPUT`, `{m}_STATEk_OUTPUT` and `{m}_STATEk_BYTES` in `model.h`
name the pairs for code that wants to keep the state elsewhere (e.g. one state per channel:
point `inputs[i]` at that channel's buffer before the step).
"""
    return f"""# {lib}: an edgeformer model as a C library

{prov}

Plain C99, no allocation, no OS: `model.h` is the whole API.

| file | what |
|---|---|
| `model.h` | the API: `{n.sym}_init()`, `{n.sym}_run()`, sizes, shapes, dtypes |
| `model.c` | the forward pass: one kernel call per node at fixed offsets in one static arena |
| `weights.c`, `weights.h` | the constants (`const`, so they stay in flash) |
| `ef_*.c`, `ef_*.h` | the kernels, the same for every model of this edgeformer version |
| `CMakeLists.txt` | static library `{lib}` (+ `edgeformer_kernels`, shared between models) |
| `zephyr/` | a Zephyr module (`module.yml`, `CMakeLists.txt`, `Kconfig`) |
| `model.mk` | a Makefile fragment |
| `example/main.c` | runs the model once and prints its outputs |

## API

```c
#include "{header}"

int {n.sym}_init(void);                                      /* 0 on success */
int {n.sym}_run(const void *const *inputs, void *const *outputs);  /* 0, or 1 + failing node */
```

`inputs[i]` and `outputs[i]` point at dense, row-major buffers of `{m}_INPUTi_BYTES` and
`{m}_OUTPUTi_BYTES` bytes; each buffer's shape and dtype are in `model.h`
(`{m}_INPUTi_SHAPE`, `{m}_INPUTi_DTYPE`). `{n.sym}_run` is not reentrant: one arena per model.

**No copies:** the inputs and outputs live in the arena. Write input *i* where
`{n.sym}_input(i)` points (a camera or ADC DMA can target it) and pass that pointer as
`inputs[i]`; pass `{n.sym}_output(i)` as `outputs[i]` and read the result there. `{n.sym}_run`
then copies nothing, and the application holds no second copy of the image. (Passing your own
buffers works too; they are then copied.) An input is consumed by the run; an output stays
valid until you write the next input. Exported with `--io-dtype int8` (or `uint8`), the model
takes and gives the int8 data its edge Quantize/Dequantize would have made:
real = (q - `{m}_INPUTi_ZERO_POINT`) x `{m}_INPUTi_SCALE`, likewise for outputs.

{chr(10).join(_io_rows(api))}

## Memory

| what | bytes | where |
|---|---|---|
| arena (`{m}_ARENA_BYTES`, every activation) | {api.arena_bytes:,} | RAM, static in `model.c` |
| weights | {api.weights_bytes:,} | flash (`const`) |
| your buffers (streaming state; the other I/O is in the arena) | {io_bytes:,} | RAM, yours |
{state_row}
Code size and the stack depend on your compiler and flags: `edgeformer build ART --board B`
reads them from a linked firmware, and its `ram_bytes` is the whole figure: arena + your
buffers + the stack high-water mark measured in QEMU + static state. The arena is 16-byte aligned.

## Where to put the arena

The arena is `static uint8_t ef_arena[{m}_ARENA_BYTES]` in `model.c`, in `.bss` by default.
Define `{m}_ARENA_SECTION` when compiling `model.c` to place it, e.g. in the M7's DTCM
(fast, no cache) or in AXI SRAM, with a section your linker script maps there:

```cmake
target_compile_definitions({lib} PRIVATE
    [=[{m}_ARENA_SECTION=__attribute__((section(".dtcm_bss")))]=])
```
```make
{n.make}_CFLAGS += '-D{m}_ARENA_SECTION=__attribute__((section(".dtcm_bss")))'
```
The linker script then needs, inside its DTCM region, a `NOLOAD` output section with
`*(.dtcm_bss*)`. Nothing reads the arena before `{n.sym}_run` writes it, so it needs no zeroing.

## Building it

- **CMake**: `add_subdirectory(path/to/c {lib})` then `target_link_libraries(app PRIVATE {lib})`.
  Cross-compile with your usual toolchain file (`-mcpu=cortex-m7 -mfpu=fpv5-d16 -mfloat-abi=hard`).
- **Zephyr**: add this folder to `ZEPHYR_EXTRA_MODULES` (or west.yml); `CONFIG_EDGEFORMER_{lib.upper()}=y`
  is the default.
- **Make**: `include path/to/c/model.mk`, then link `$({n.make}_OBJS) $(EF_KERNEL_OBJS)` and add `-lm`.
- **STM32CubeIDE**: copy this folder into the project (or link it), add it to the include paths,
  and exclude `example/` from the build.

Two models in one firmware: export each with its own `--name`, add both folders; the kernels
are compiled once (`edgeformer_kernels`, `EF_KERNEL_SRCS`). With both folders on the include
path, include each model by its own header (`#include "{header}"`), not `model.h`.

## Reading cycles with DWT (Cortex-M3/M4/M7/M33/M55)

```c
#define DEMCR      (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_LAR    (*(volatile uint32_t *)0xE0001FB0u)   /* M7: unlock first */
#define DWT_CTRL   (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)

DEMCR |= 1u << 24;          /* TRCENA */
DWT_LAR = 0xC5ACCE55u;
DWT_CYCCNT = 0;
DWT_CTRL |= 1u;             /* CYCCNTENA */
uint32_t t0 = DWT_CYCCNT;
{n.sym}_run(inputs, outputs);
uint32_t cycles = DWT_CYCCNT - t0;   /* wraps after 2^32 cycles: ~20 s at 216 MHz */
```

Per-node timings: `model.c` wraps every kernel call in `EF_PROFILE_BEGIN(i)` /
`EF_PROFILE_END(i, name)`, empty by default; define them (e.g. with `-include my_profile.h`)
to read `DWT_CYCCNT` around each node. Inside a fused row loop, `EF_PROFILE_PART(slot)` marks
where each of your modules' parts (a norm, attention's QKV / scores / softmax / AV /
projection, the MLP) starts, every row, and `EF_PROFILE_LOOP(first_slot, labels)` follows the
loop; they are empty too (edgeformer's own `ef_profile.h` sums the counter at each marker). `example/main.c` built with `-DEF_EXAMPLE_DWT` prints
the cycles of one run.
{stream}"""


def example_c(api: Api) -> str:
    n, m = api.names, api.names.macro
    bufs, ins, outs, prints = [], [], [], []
    state_in, state_out = {s.inp for s in api.states}, {s.out for s in api.states}
    for kind, ios, names, state in (("INPUT", api.inputs, ins, state_in), ("OUTPUT", api.outputs, outs, state_out)):
        for i, (name, dtype, shape, _nb) in enumerate(ios):
            var, ctype, fn = f"{kind.lower()}{i}", C_TYPES[dtype], f"{n.sym}_{kind.lower()}"
            if i in state:   # a streaming model's state outlives the run: the caller holds it
                bufs += [f"/* {kind.lower()} {i} ({name}): state, kept in your buffer between steps. */",
                         f"static {ctype} {var}_buf[{m}_{kind}{i}_NUMEL];", f"#define {var.upper()} {var}_buf", ""]
            else:            # zero copy: the model's own arena bytes, where {fn}(i) points
                bufs += [f"/* {kind.lower()} {i} ({name}, {dtype} {list(shape)}): "
                         + ("write it" if kind == "INPUT" else "read it") + f" where {fn}({i}) points,",
                         " * in the model's arena: the run copies nothing and you hold no second buffer. */",
                         f"#if {m}_{kind}{i}_IN_ARENA", f"#define {var.upper()} (({ctype} *){fn}({i}))", "#else",
                         f"static {ctype} {var}_buf[{m}_{kind}{i}_NUMEL];   /* kept outside the arena */",
                         f"#define {var.upper()} {var}_buf", "#endif", ""]
            names.append(var.upper())
    for i, (name, dtype, shape, _nb) in enumerate(api.outputs):
        fmt, cast = PRINTF.get(dtype, ("%d", "(int)"))
        numel = int(np.prod(shape, dtype=np.int64))
        if any(s.out == i for s in api.states):
            continue   # state: fed back, not printed
        prints += [f'    printf("output{i} {name}:");',
                   f"    for (k = 0; k < {numel}; ++k) printf(\" {fmt}\", {cast}OUTPUT{i}[k]);",
                   '    printf("\\n");']
    header = "\n".join(f" * {line}" for line in provenance_lines(api.prov))
    in_type = C_TYPES[api.inputs[0][1]] if api.inputs else "uint8_t"
    scale = " / 8.0f" if in_type == "float" else ""
    if api.streaming:
        body = [f"    {n.sym}_reset(inputs);   /* a new sequence: zero state */",
                "    for (t = 0; t < EXAMPLE_STEPS; ++t) {",
                "        fill_input0();   /* this step's frame: the same test pattern every step here */",
                "        cycles_start();",
                f"        st = {n.sym}_run((const void *const *)inputs, outputs);",
                "        cycles = cycles_now();",
                "        if (st != 0) { printf(\"run failed at node %d\\n\", st - 1); return 1; }",
                f"        {n.sym}_carry_state(inputs, outputs);",
                "    }"]
    else:
        body = ["    fill_input0();", "    cycles_start();", f"    st = {n.sym}_run((const void *const *)inputs, outputs);", "    cycles = cycles_now();",
                "    if (st != 0) { printf(\"run failed at node %d\\n\", st - 1); return 1; }"]
    return "\n".join([
        f"/* example/main.c: run {n.lib} once on a fixed test pattern and print its outputs.",
        " * input0[k] = ((k % 17) - 8) / 8: replace fill_input0() with your camera / ADC data.",
        header,
        " *",
        f" * Host:     cmake -S c -B build && cmake --build build && ./build/{n.lib}_example",
        " * Cortex-M: link it with your start-up code; printf needs a retargeted _write, or",
        " *           semihosting (-DEF_EXAMPLE_SEMIHOSTING, --specs=rdimon.specs); newlib-nano",
        " *           prints floats with -u _printf_float.",
        " * -DEF_EXAMPLE_DWT: also print one run's cycles from the DWT cycle counter. */",
        "#include <stdint.h>", "#include <stdio.h>", "", '#include "../model.h"', "",
        *([f"#define EXAMPLE_STEPS {EXAMPLE_STEPS}   /* time steps of the example sequence */", ""]
          if api.streaming else []),
        "#ifdef EF_EXAMPLE_DWT",
        "#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)",
        "#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)",
        "#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)",
        "#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)",
        "static uint32_t t0;",
        "static void cycles_start(void) { DEMCR |= 1u << 24; DWT_LAR = 0xC5ACCE55u; DWT_CTRL |= 1u; t0 = DWT_CYCCNT; }",
        "static uint32_t cycles_now(void) { return DWT_CYCCNT - t0; }",
        "#else",
        "static void cycles_start(void) {}",
        "static uint32_t cycles_now(void) { return 0; }",
        "#endif", "",
        "#ifdef EF_EXAMPLE_SEMIHOSTING",
        "extern void initialise_monitor_handles(void);   /* newlib's rdimon: stdio over the debugger */",
        "#endif", "",
        "/* Where the model reads its inputs and writes its outputs. */",
        *bufs,
        "static void fill_input0(void)",
        "{",
        "    int k;",
        f"    for (k = 0; k < {m}_INPUT0_NUMEL; ++k) INPUT0[k] = ({in_type})(((k % 17) - 8){scale});",
        "}", "",
        "int main(void)",
        "{",
        f"    void *const inputs[] = {{{', '.join(ins) or '0'}}};",
        f"    void *const outputs[] = {{{', '.join(outs) or '0'}}};",
        "    uint32_t cycles;",
        "    int st, k;" + ("\n    int t;" if api.streaming else ""),
        "#ifdef EF_EXAMPLE_SEMIHOSTING",
        "    initialise_monitor_handles();",
        "#endif",
        f"    if ({n.sym}_init() != 0) {{ printf(\"init failed\\n\"); return 1; }}",
        *body,
        *prints,
        "#ifdef EF_EXAMPLE_DWT",
        '    printf("cycles: %lu\\n", (unsigned long)cycles);',
        "#else",
        "    (void)cycles;",
        "#endif",
        "    (void)inputs;", "    (void)outputs;", "    (void)k;",
        "    return 0;",
        "}", ""])
