"""QEMU machines that emulate a board's own part, not a stand-in: the device image, linked at the
board's real addresses and talking to its real USART, runs there unchanged (`edgeformer run ART
--board B --io uart --image device`, for a board whose file names `emulator`).

netduinoplus2 (QEMU 7.2): an STM32F405. `info mtree`: 1 MiB flash at 0x08000000 (aliased at
0x0, where the core boots), 192 KiB SRAM at 0x20000000, no CCM. Its USARTs are QEMU's
stm32f2xx model (SR/DR registers: our `stm32-v1` driver), wired to -serial 0..6 in the order
below (checked by writing one byte to each). The model takes no notice of BRR: there is no baud
timing, a byte arrives as it is written, so the board's baud and clock settings need no
emulating. RCC and GPIO are unimplemented devices (writes ignored, reads 0), so the board's
clock and pin set-up runs harmlessly. There is no DWT: CYCCNT reads 0, so the device image's
cycle profile is zeros here; the outputs are exact.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeformer.errors import UserError
from edgeformer.runtime.qemu import FirmwareError, _text
from edgeformer.runtime.uart import Incomplete, UartResult, decode

POLL_S = 0.05


@dataclass(frozen=True)
class PartMachine:
    name: str                       # a board's `emulator` value, and qemu-system-arm -M
    part: str
    uart_kind: str                  # the runtime/firmware/uart.c driver its USARTs take
    flash: tuple[int, int]          # (origin, bytes)
    sram: tuple[int, int]
    serials: tuple[int, ...]        # USART base addresses, in -serial order

    def serial_index(self, base: int) -> int | None:
        return self.serials.index(base) if base in self.serials else None


PART_MACHINES: dict[str, PartMachine] = {m.name: m for m in (
    PartMachine("netduinoplus2", "STM32F405", "stm32-v1", (0x08000000, 1 << 20), (0x20000000, 192 << 10),
                (0x40011000, 0x40004400, 0x40004800, 0x40004C00, 0x40005000, 0x40011400, 0x40007800)),
)}


def part_machine(board) -> PartMachine:
    """The machine that runs `board`'s device UART image, or a UserError saying why none does."""
    if board.emulator is None:
        known = ", ".join(PART_MACHINES)
        raise UserError(f"board {board.name} names no emulator for its part, so its device image cannot run in "
                        f"QEMU (emulated parts: {known}); run the sim image (--image sim) or flash the board")
    m = PART_MACHINES[board.emulator]
    if board.uart is None or board.uart.kind != m.uart_kind or m.serial_index(board.uart.base) is None:
        raise UserError(f"board {board.name}: its [uart] is not one of {m.name}'s USARTs ({m.uart_kind} at "
                        f"{', '.join(hex(b) for b in m.serials)}); fix the board file's [uart] or its emulator key")
    return m


def check_fits(elf: Path, m: PartMachine) -> None:
    """Every section the image places must lie in the emulated part's flash or SRAM."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            lo, hi = sec["sh_addr"], sec["sh_addr"] + sec["sh_size"]
            if not any(o <= lo and hi <= o + n for o, n in (m.flash, m.sram)):
                raise UserError(f"{elf}: section {sec.name} ({lo:#x}..{hi:#x}) lies outside {m.name}'s {m.part} "
                                f"(flash {m.flash[0]:#x}+{m.flash[1]:,} B, SRAM {m.sram[0]:#x}+{m.sram[1]:,} B): "
                                "the model is too big for the emulated part; run the sim image (--image sim)")


def run_device_uart(elf: Path, board, timeout: float = 120.0) -> UartResult:
    """Run the device UART image on its part's QEMU machine and read the stream off the board's
    USART. The image never exits (it parks the core), so QEMU is stopped once the stream's CRC
    trailer has been read."""
    from edgeformer.runtime.cross import find_tool

    m = part_machine(board)
    check_fits(Path(elf), m)
    k = m.serial_index(board.uart.base)
    with tempfile.TemporaryDirectory(prefix="edgeformer-part-") as tmp:
        log = Path(tmp) / "uart.bin"
        cmd = [find_tool("qemu-system-arm", "qemu-system-arm"), "-M", m.name, "-display", "none", "-monitor", "none",
               *(a for _ in range(k) for a in ("-serial", "null")), "-serial", f"file:{log}",
               "-kernel", str(Path(elf).resolve())]
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            return _read_stream(proc, log, elf, m, timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def _read_stream(proc: subprocess.Popen, log: Path, elf: Path, m: PartMachine, timeout: float) -> UartResult:
    end, seen = time.monotonic() + timeout, -1
    while True:
        stopped = proc.poll() is not None   # before reading: what it wrote before stopping is read
        raw = log.read_bytes() if log.exists() else b""
        if len(raw) != seen:
            seen = len(raw)
            try:
                return decode(raw)
            except Incomplete:
                pass
        if stopped:
            said = _text(*proc.communicate())
            raise FirmwareError(f"QEMU {m.name} stopped (status {proc.returncode}) before the stream's trailer "
                                f"({len(raw)} bytes read); it printed: {said or '(nothing)'}")
        if time.monotonic() > end:
            raise FirmwareError(f"no complete edgeformer stream from {elf} on QEMU {m.name} within {timeout:.0f} s "
                                f"({len(raw)} bytes read): the firmware hung or faulted (QEMU killed)")
        time.sleep(POLL_S)
