"""What a CPU/toolchain is: compiler, flags, simulator stand-in, cycle source.

One entry per core. Boards name a core; the build takes its flags from here, so a board
file never repeats `-mcpu`. The cycle source says how the profiling hook counts: DWT
CYCCNT on silicon, SysTick under `qemu -icount` (QEMU does not implement CYCCNT).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edgeformer.errors import UserError

# Shared by every Cortex-M build: size-friendly sections so --gc-sections drops unused kernels.
_M_COMMON = ("-mthumb", "-O2", "-std=c99", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str                         # "mcu" | "host" | "gpu"
    cc: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    qemu_machine: str | None = None   # the QEMU board that stands in for this core
    qemu_cpu_hz: int | None = None    # the stand-in's SysTick reference clock
    cycle_source: dict[str, str] = field(default_factory=dict)  # mode -> counter

    @property
    def is_mcu(self) -> bool:
        return self.kind == "mcu"


def _m(name: str, cpu: str, fpu: str, qemu: str | None) -> Target:
    return Target(name, "mcu", "arm-none-eabi-gcc",
                  cflags=(f"-mcpu={cpu}", f"-mfpu={fpu}", "-mfloat-abi=hard", *_M_COMMON),
                  ldflags=("-Wl,--gc-sections", "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles"),
                  qemu_machine=qemu, qemu_cpu_hz=25_000_000 if qemu else None,
                  cycle_source={"qemu": "systick", "device": "dwt_cyccnt"})


TARGETS: dict[str, Target] = {
    # mps2-an500 / mps2-an386: MPS2 FPGA images for M7 / M4, both clocked at 25 MHz in QEMU.
    "cortex-m7": _m("cortex-m7", "cortex-m7", "fpv5-d16", "mps2-an500"),
    "cortex-m4": _m("cortex-m4", "cortex-m4", "fpv4-sp-d16", "mps2-an386"),
    # M55: MVE + FPU; QEMU's mps3-an547 is an M55 (no board file uses it yet).
    "cortex-m55": _m("cortex-m55", "cortex-m55", "auto", "mps3-an547"),
    "host": Target("host", "host", "cc", cflags=("-std=c99", "-O2", "-Wall", "-Wextra"), ldflags=("-lm",),
                   cycle_source={"host": "clock_gettime"}),
    "cuda": Target("cuda", "gpu", "nvcc", cycle_source={"device": "cuda_event"}),
}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UserError(f"unknown core {name!r}; known cores: {', '.join(TARGETS)}") from None
