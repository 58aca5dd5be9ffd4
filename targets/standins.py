"""QEMU stand-ins: the emulated machine that runs a core's simulated image, and its memory map.

A board names its stand-in (`simulator = "..."`); the simulated image is linked at the
stand-in's flash and RAM origins with the board's own sizes, so "fits in simulation" means
"fits on the board" (runtime/cross.py), and QEMU is started with the stand-in's arguments
(runtime/qemu.py). Maps read from QEMU 7.2 (`info mtree` on each machine):

- mps2-an500 / mps2-an386 (M7 / M4): 4 MiB SSRAM1 at 0x0, 4 MiB SSRAM2/3 at 0x20000000; 25 MHz.
- mps3-an547 (Corstone-300, M55 + MVE): 512 KiB ITCM at 0x0, 512 KiB DTCM at 0x20000000;
  the core's clock is 32 MHz. Boots secure from 0x0.
- mps2-an505 (IoTKit, M33): SSRAM1 4 MiB, secure alias 0x10000000 (code, where the secure
  VTOR points at reset); SSRAM2+3 4 MiB, secure alias 0x38000000 (data); 20 MHz. The MPS2
  M7 map (RAM at 0x20000000, 32 KiB there) locks the core up.
- microbit (nRF51822, M0): 256 KiB flash at 0x0, 16 KiB SRAM at 0x20000000; 16 MHz. The
  nRF51's `sram-size`/`flash-size` properties grow with an image linked for a larger M0
  board (the RP2040's 264 KiB): a micro:bit image, held to 16 KiB by its own link, gets the
  real nRF51 sizes.

cpu_hz is the SysTick's core clock in QEMU: under `-icount shift=0` (1 ns per instruction)
one tick is 1e9 / cpu_hz instructions (31.25 on the an547, 62.5 on the micro:bit: measured
with a 200,000-instruction loop on each machine).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeformer.errors import UserError


@dataclass(frozen=True)
class StandIn:
    name: str             # the boards' `simulator` value
    machine: str          # qemu-system-arm -M
    cpu_hz: int           # SysTick core clock (instructions per tick = 1e9 / cpu_hz under -icount)
    flash_origin: int     # where the simulated image's code and weights go
    flash_bytes: int
    ram_origin: int       # where .data, .bss (the arena) and the stack go
    ram_bytes: int
    sizable: bool = False  # memory sized to the image (nRF51 properties), never below the real part

    def qemu_args(self, elf: Path | None = None) -> list[str]:
        """`-M machine` and, for a sizable stand-in, the memory an image needs beyond the part's own."""
        args = ["-M", self.machine]
        if self.sizable and elf is not None:
            flash, ram = image_extent(Path(elf), self)
            if flash > self.flash_bytes:
                args += ["-global", f"nrf51-soc.flash-size={_round_up(flash, 4096)}"]
            if ram > self.ram_bytes:
                args += ["-global", f"nrf51-soc.sram-size={_round_up(ram, 4096)}"]
        return args


def _round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def image_extent(elf: Path, s: StandIn) -> tuple[int, int]:
    """Bytes from the flash origin and from the RAM origin up to the end of what the image
    places there (the stack, a NOLOAD section, included)."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    flash = ram = data = 0
    with open(elf, "rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            end = sec["sh_addr"] + sec["sh_size"]
            if sec["sh_addr"] >= s.ram_origin:
                ram = max(ram, end - s.ram_origin)
                data += sec["sh_size"] if sec["sh_type"] != "SHT_NOBITS" else 0  # its image sits in flash
            elif sec["sh_addr"] >= s.flash_origin:
                flash = max(flash, end - s.flash_origin)
    return flash + data, ram


_MPS2 = dict(cpu_hz=25_000_000, flash_origin=0x0, flash_bytes=4 << 20, ram_origin=0x20000000, ram_bytes=4 << 20)

STAND_INS: dict[str, StandIn] = {s.name: s for s in (
    StandIn("mps2-an500", "mps2-an500", **_MPS2),
    StandIn("mps2-an386", "mps2-an386", **_MPS2),
    StandIn("mps3-an547", "mps3-an547", 32_000_000, 0x0, 512 << 10, 0x20000000, 512 << 10),
    StandIn("mps2-an505", "mps2-an505", 20_000_000, 0x10000000, 4 << 20, 0x38000000, 4 << 20),
    StandIn("microbit", "microbit", 16_000_000, 0x0, 256 << 10, 0x20000000, 16 << 10, sizable=True),
)}


def stand_in(name: str) -> StandIn:
    try:
        return STAND_INS[name]
    except KeyError:
        raise UserError(f"unknown QEMU stand-in {name!r}; known: {', '.join(STAND_INS)}") from None
