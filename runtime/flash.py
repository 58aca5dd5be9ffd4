"""`edgeformer flash`: the hardware image onto a real board through a debug probe.

Command construction is pure (tested without hardware). The probe is looked for on USB
before anything is built or written, so "no probe" exits 2 and leaves ART untouched.
OpenOCD also runs the firmware with semihosting enabled (its cwd holds in.bin, out.bin,
profile.bin), so outputs and the DWT cycle profile come back. pyOCD and st-flash flash the
UART image (firmware/main_uart.c: test inputs in flash, outputs and profile streamed out of
the board's [uart]), read back from --port with pyserial (runtime/uart.py); the same image
and decoder run under QEMU in `edgeformer run --io uart`, which the tests exercise: the sim
image on the stand-in, and for a board whose part QEMU emulates (STM32F4: netduinoplus2) the
very device image flashed here (`--image device`, runtime/part_qemu.py).
Not tested on real boards here (no hardware on this machine).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from edgeformer.errors import UserError
from edgeformer.runtime.boards import PROBES, Board

# USB vendor:product ids of the debug probes each tool drives.
PROBE_USB = {
    "stlink": {("0483", "3744"), ("0483", "3748"), ("0483", "374b"), ("0483", "374e"), ("0483", "374f"),
               ("0483", "3752"), ("0483", "3753"), ("0483", "3754")},
    "jlink": {("1366", "0101"), ("1366", "0105"), ("1366", "1015"), ("1366", "1051")},
    "cmsis-dap": {("0d28", "0204"), ("c251", "f002"), ("2e8a", "000c")},
}
PROBE_KINDS = {"openocd": ("stlink", "jlink", "cmsis-dap"), "pyocd": ("stlink", "jlink", "cmsis-dap"),
               "stlink": ("stlink",)}
TOOLS = {"openocd": ("openocd", "openocd"), "pyocd": ("pyocd", "pip install pyocd"),
         "stlink": ("st-flash", "stlink-tools")}
OPENOCD_RUN_MS = 600_000   # how long OpenOCD waits for the firmware's semihosting exit


def usb_devices(root: Path = Path("/sys/bus/usb/devices")) -> set[tuple[str, str]]:
    found = set()
    for dev in root.glob("*") if root.is_dir() else ():
        try:
            found.add(((dev / "idVendor").read_text().strip().lower(), (dev / "idProduct").read_text().strip().lower()))
        except OSError:
            continue
    return found


def find_probe(probe: str, usb: set[tuple[str, str]]) -> str | None:
    """The kind of attached probe `probe`'s tool can drive, or None."""
    for kind in PROBE_KINDS[probe]:
        if PROBE_USB[kind] & usb:
            return kind
    return None


def check_probe(board: Board, probe: str, usb: set[tuple[str, str]] | None = None) -> str:
    if probe not in PROBES:
        raise UserError(f"unknown probe {probe!r}; use one of {', '.join(PROBES)}")
    if probe not in board.probes:
        raise UserError(f"board {board.name} cannot be flashed with {probe}; its probes: "
                        f"{', '.join(board.probes) or 'none (simulator only)'}")
    kind = find_probe(probe, usb_devices() if usb is None else usb)
    if kind is None:
        tried = "/".join(PROBE_KINDS[probe])
        raise UserError(f"no debug probe found (tried {probe}: no {tried} probe on USB); plug in {board.name} "
                        f"or run it in simulation: edgeformer run ART --board {board.name}")
    tool, apt = TOOLS[probe]
    if not shutil.which(tool):
        raise UserError(f"{tool} not found; install it ({apt})")
    return kind


def flash_commands(board: Board, probe: str, elf: Path, binary: Path | None = None) -> list[list[str]]:
    """The commands that flash (and for OpenOCD, run with semihosting) the hardware image."""
    elf = Path(elf)
    if probe == "openocd":
        return [["openocd", *board.probe["openocd"], "-c", "init", "-c", "reset halt",
                 "-c", f"program {elf} verify", "-c", "arm semihosting enable", "-c", "reset run",
                 "-c", f"wait_halt {OPENOCD_RUN_MS}", "-c", "shutdown"]]
    if probe == "pyocd":
        return [["pyocd", "load", "--target", board.probe["pyocd_target"], str(elf)],
                ["pyocd", "reset", "--target", board.probe["pyocd_target"]]]
    if probe == "stlink":
        binary = binary or elf.with_suffix(".bin")
        return [["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)],
                ["st-flash", "--reset", "write", str(binary), hex(board.flash.origin)]]
    raise UserError(f"unknown probe {probe!r}; use one of {', '.join(PROBES)}")


def check_port(board: Board, probe: str, port: str) -> None:
    """--port (UART read-back) needs a pyOCD / st-flash flash, a board [uart] and a port that exists."""
    if probe == "openocd":
        raise UserError("--port is for --probe pyocd or stlink; OpenOCD reads outputs back over semihosting")
    if board.uart is None:
        raise UserError(f"board {board.name} has no [uart] table, so no UART read-back; add one to its board file "
                        "or use --probe openocd")
    if port.startswith("/dev/") and not Path(port).exists():
        raise UserError(f"serial port {port} does not exist; plug in {board.name} (its USB-serial port is usually "
                        "/dev/ttyACM0)")
