"""What a CPU/toolchain is: compiler, flags, simulator stand-in, cycle source.

One entry per core. Boards name a core; the build takes its flags from here, so a board
file never repeats `-mcpu`. The cycle source says how the profiling hook counts: DWT
CYCCNT on silicon, SysTick under `qemu -icount` (QEMU does not implement CYCCNT).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edgeformer.errors import UserError
from edgeformer.targets.standins import StandIn, stand_in

# Shared by every Cortex-M build: size-friendly sections so --gc-sections drops unused kernels.
_M_COMMON = ("-mthumb", "-O2", "-std=c99", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str                         # "mcu" | "host" | "gpu"
    cc: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    qemu_machine: str | None = None   # the QEMU stand-in for this core (targets/standins.py)
    qemu_cpu_hz: int | None = None    # the stand-in's SysTick core clock
    cycle_source: dict[str, str] = field(default_factory=dict)  # mode -> counter
    features: tuple[str, ...] = ()    # what the kernels may use: dsp, fpu, mve, idiv

    @property
    def is_mcu(self) -> bool:
        return self.kind == "mcu"

    @property
    def stand_in(self) -> StandIn | None:
        """The stand-in's machine and memory map (None: no QEMU stand-in)."""
        return stand_in(self.qemu_machine) if self.qemu_machine else None


_M_LD = ("-Wl,--gc-sections", "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles")


def _m(name: str, cpu: str, fpu: str | None, qemu: str, features: tuple[str, ...]) -> Target:
    float_flags = (f"-mfpu={fpu}", "-mfloat-abi=hard") if fpu else ("-mfloat-abi=soft",)
    # v6-M has no CYCCNT (no DWT cycle counter): a device run counts SysTick at the core clock.
    device = "dwt_cyccnt" if "dsp" in features or "idiv" in features else "systick"
    return Target(name, "mcu", "arm-none-eabi-gcc", cflags=(f"-mcpu={cpu}", *float_flags, *_M_COMMON),
                  ldflags=_M_LD, qemu_machine=qemu, qemu_cpu_hz=stand_in(qemu).cpu_hz,
                  cycle_source={"qemu": "systick", "device": device}, features=features)


TARGETS: dict[str, Target] = {
    # mps2-an500 / mps2-an386: MPS2 FPGA images for M7 / M4, both clocked at 25 MHz in QEMU.
    "cortex-m7": _m("cortex-m7", "cortex-m7", "fpv5-d16", "mps2-an500", ("dsp", "fpu", "idiv")),
    "cortex-m4": _m("cortex-m4", "cortex-m4", "fpv4-sp-d16", "mps2-an386", ("dsp", "fpu", "idiv")),
    # M55: Helium (MVE, integer and float) + scalar FPU; mps3-an547 (Corstone-300) is an M55.
    "cortex-m55": _m("cortex-m55", "cortex-m55", "auto", "mps3-an547", ("dsp", "fpu", "mve", "idiv")),
    # M33 with its DSP extension and single-precision FPU (GCC's cortex-m33 includes +dsp);
    # mps2-an505 (IoTKit) is an M33.
    "cortex-m33": _m("cortex-m33", "cortex-m33", "fpv5-sp-d16", "mps2-an505", ("dsp", "fpu", "idiv")),
    # v6-M: no DSP, no FPU (soft float), no hardware divide, no unaligned access. QEMU has no
    # M0+; the micro:bit's nRF51 (an M0) runs the same Thumb-1 instruction set.
    "cortex-m0": _m("cortex-m0", "cortex-m0", None, "microbit", ()),
    "cortex-m0plus": _m("cortex-m0plus", "cortex-m0plus", None, "microbit", ()),
    "host": Target("host", "host", "cc", cflags=("-std=c99", "-O2", "-Wall", "-Wextra"), ldflags=("-lm",),
                   cycle_source={"host": "clock_gettime"}),
    "cuda": Target("cuda", "gpu", "nvcc", cycle_source={"device": "cuda_event"}),
}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UserError(f"unknown core {name!r}; known cores: {', '.join(TARGETS)}") from None
