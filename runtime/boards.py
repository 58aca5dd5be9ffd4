"""Boards: one TOML file per board (boards/*.toml), loaded and validated here.

A board names its core (a `targets` entry), its memory regions, its clock, how to flash it
and which QEMU machine stands in for it. Two regions are required: `flash` (code + weights)
and `ram` (the one contiguous region that holds .data, .bss, the arena and the stack); other
regions (`kind = "ram"`, e.g. DTCM, CCM) count in `sram_bytes` but the build does not use
them. A malformed file raises UserError naming the file and the key.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edgeformer.errors import UserError
from edgeformer.targets.cores import TARGETS, Target, target
from edgeformer.targets.standins import STAND_INS, StandIn, stand_in

SIMULATORS = tuple(STAND_INS)   # mps2-an500, mps2-an386, mps3-an547, mps2-an505, microbit
PROBES = ("openocd", "pyocd", "stlink")
_UNITS = {"": 1, "b": 1, "kib": 1024, "kb": 1024, "k": 1024, "mib": 1 << 20, "mb": 1 << 20, "m": 1 << 20}


def parse_bytes(value: Any, what: str = "bytes", lo: int | None = None, hi: int | None = None) -> int:
    """320KiB, 1MiB, 327680 (or an int) -> bytes; with lo/hi, a value outside lo..hi is refused
    naming the plausible range."""
    span = f" in {_human(lo)}..{_human(hi)}" if lo is not None and hi is not None else ""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        n = value
    else:
        m = re.fullmatch(r"\s*(\d{1,30})\s*([a-zA-Z]*)\s*", str(value))
        if m is None or m.group(2).lower() not in _UNITS:
            raise UserError(f"{what}: expected a byte count{span} like 320KiB, 1MiB or 327680, got {value!r}")
        n = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise UserError(f"{what} = {value!r} ({n:,} B) is not a plausible microcontroller size; give a byte "
                        f"count{span or ' in range'}, e.g. 320KiB")
    return n


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


# What a microcontroller plausibly has (a board file or a search budget outside this is a
# typo: 10^12 bytes of RAM, RAM 1 byte long). 32-bit cores address 4 GiB in all.
RAM_RANGE = (1 << 10, 64 << 20)
FLASH_RANGE = (1 << 10, 256 << 20)
CLOCK_RANGE = (1, 2_000_000_000)
ADDRESS_SPACE = 1 << 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


@dataclass(frozen=True)
class Region:
    name: str
    kind: str        # "flash" | "ram"
    origin: int
    size: int


@dataclass(frozen=True)
class Uart:
    """A UART the firmware streams its outputs and profile out of (runtime/firmware/uart.c).

    kind: cmsdk | stm32-v1 (F4: SR/DR) | stm32-v2 (F7/H7: ISR/TDR) | nrf52. clock_hz is the
    peripheral's clock as the firmware leaves it (the reset clock: the start-up code sets no
    PLL). setup: [address, clear mask, set bits] register writes, in order, that turn on the
    clocks and route the TX pin (STM32 RCC and GPIO). tx_pin: the nRF52 PSEL.TXD value."""

    kind: str
    base: int
    baud: int = 115200
    clock_hz: int = 16_000_000
    tx_pin: int = 0
    setup: tuple[tuple[int, int, int], ...] = ()

    def divisor(self) -> int:
        if self.kind == "nrf52":  # the BAUDRATE register word: baud x 2^32 / 16 MHz, rounded as Nordic lists it
            return NRF52_BAUD[self.baud]
        return max(16, round(self.clock_hz / self.baud))


UART_KINDS = ("cmsdk", "stm32-v1", "stm32-v2", "nrf52")
NRF52_BAUD = {9600: 0x00275000, 19200: 0x004EA000, 38400: 0x009D5000, 57600: 0x00EBF000, 115200: 0x01D7E000,
              230400: 0x03AFB000, 460800: 0x075F7000, 921600: 0x0EBED000, 1000000: 0x10000000}
# QEMU's MPS2 machines: CMSDK UART0, wired to the first -serial.
SIM_UART = Uart("cmsdk", 0x40004000, 115200, 25_000_000)


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    core: str
    clock_hz: int
    simulator: str
    regions: tuple[Region, ...]
    probe: dict[str, Any] = field(default_factory=dict)   # probe name -> how (see flash.py)
    source: str = ""
    uart: "Uart | None" = None                              # the UART read-back port, if any
    emulator: str | None = None   # a QEMU machine emulating the part itself (runtime/part_qemu.py): runs the device image

    @property
    def target(self) -> Target:
        return target(self.core)

    @property
    def stand_in(self) -> StandIn:
        """The QEMU machine that runs this board's simulated image, and its memory map."""
        return stand_in(self.simulator)

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    @property
    def flash(self) -> Region:
        return self.region("flash")

    @property
    def ram(self) -> Region:
        return self.region("ram")

    @property
    def sram_bytes(self) -> int:
        return sum(r.size for r in self.regions if r.kind == "ram")

    @property
    def flash_bytes(self) -> int:
        return self.flash.size

    def summary(self) -> dict[str, Any]:
        """The `edgeformer boards` row (CONTRACT.md keys first)."""
        return {"name": self.name, "core": self.core, "sram_bytes": self.sram_bytes,
                "flash_bytes": self.flash_bytes, "clock_hz": self.clock_hz, "simulator": self.simulator,
                "part": self.part, "arena_region_bytes": self.ram.size,
                "probes": self.probes}

    @property
    def probes(self) -> list[str]:
        """Probes this board can be flashed with (none: a simulator-only board)."""
        have = {"openocd": bool(self.probe.get("openocd")), "pyocd": bool(self.probe.get("pyocd_target")),
                "stlink": bool(self.probe.get("stlink"))}
        return [p for p in PROBES if have[p]]


_TOP = {"name": str, "part": str, "core": str, "clock_hz": int, "simulator": str, "memory": dict, "probe": dict,
        "uart": dict, "emulator": str}
_UART = {"kind": str, "base": int, "baud": int, "clock_hz": int, "tx_pin": int, "setup": list}
_REQUIRED = ("name", "core", "clock_hz", "simulator", "memory")
_REGION = {"kind": str, "origin": int, "size": (int, str)}
_PROBE = {"openocd": list, "pyocd_target": str, "stlink": bool}


def _check_keys(where: str, table: dict, allowed: dict, src: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise UserError(f"board file {src}: unknown key '{where}{key}'; allowed: {', '.join(allowed)}")
        if not isinstance(value, allowed[key]) or (allowed[key] is int and isinstance(value, bool)):
            want = allowed[key].__name__ if isinstance(allowed[key], type) else " or ".join(t.__name__ for t in allowed[key])
            raise UserError(f"board file {src}: key '{where}{key}' must be {want}, got {value!r}")


def parse_board(text: str, src: str = "<board>") -> Board:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"board file {src} is not valid TOML: {e}") from None
    _check_keys("", data, _TOP, src)
    for key in _REQUIRED:
        if key not in data:
            raise UserError(f"board file {src}: missing key {key!r}")
    if data["core"] not in TARGETS or not TARGETS[data["core"]].is_mcu:
        mcus = [n for n, t in TARGETS.items() if t.is_mcu]
        raise UserError(f"board file {src}: key 'core' = {data['core']!r} is not a known MCU core; use one of {', '.join(mcus)}")
    if data["simulator"] not in SIMULATORS:
        raise UserError(f"board file {src}: key 'simulator' = {data['simulator']!r}; use one of {', '.join(SIMULATORS)}")
    if not _NAME.fullmatch(data["name"]) or ".." in data["name"]:
        raise UserError(f"board file {src}: key 'name' = {data['name']!r} must be a plain name (letters, digits, "
                        "'.', '_', '+', '-'; no '/', '\\' or '..'), e.g. \"my-board\"")
    if "part" in data and not data["part"].isprintable():
        raise UserError(f"board file {src}: key 'part' = {data['part']!r} must be printable text")
    lo, hi = CLOCK_RANGE
    if not lo <= data["clock_hz"] <= hi:
        raise UserError(f"board file {src}: key 'clock_hz' = {data['clock_hz']:,} is not a plausible microcontroller "
                        f"clock; give Hz in {lo:,}..{hi:,}")
    regions = []
    for rname, r in data["memory"].items():
        if not isinstance(r, dict):
            raise UserError(f"board file {src}: key 'memory.{rname}' must be a table with origin and size")
        _check_keys(f"memory.{rname}.", r, _REGION, src)
        for key in ("origin", "size"):
            if key not in r:
                raise UserError(f"board file {src}: missing key 'memory.{rname}.{key}'")
        kind = r.get("kind", "flash" if rname == "flash" else "ram")
        if kind not in ("flash", "ram"):
            raise UserError(f"board file {src}: key 'memory.{rname}.kind' must be flash or ram, got {kind!r}")
        lo, hi = RAM_RANGE if kind == "ram" else FLASH_RANGE
        size = parse_bytes(r["size"], f"board file {src}: key 'memory.{rname}.size'", lo, hi)
        if not 0 <= r["origin"] or r["origin"] + size > ADDRESS_SPACE:
            raise UserError(f"board file {src}: key 'memory.{rname}.origin' = {r['origin']:#x} with size {size:,} B "
                            "does not fit the 32-bit address space (0x0..0xffffffff)")
        regions.append(Region(rname, kind, r["origin"], size))
    _check_overlaps(regions, src)
    names = {r.name for r in regions}
    for need in ("flash", "ram"):
        if need not in names:
            raise UserError(f"board file {src}: missing key 'memory.{need}' (a [memory.{need}] table with origin and size)")
    _check_keys("probe.", data.get("probe", {}), _PROBE, src)
    emulator = data.get("emulator")
    if emulator is not None:
        from edgeformer.runtime.part_qemu import PART_MACHINES
        if emulator not in PART_MACHINES:
            raise UserError(f"board file {src}: key 'emulator' = {emulator!r}; use one of {', '.join(PART_MACHINES)} "
                            "(or leave it out: the board then runs in simulation on its stand-in only)")
    return Board(data["name"], data.get("part", data["name"]), data["core"], data["clock_hz"], data["simulator"],
                 tuple(regions), dict(data.get("probe", {})), src, _parse_uart(data.get("uart"), src), emulator)


def _check_overlaps(regions: list[Region], src: str) -> None:
    """No two memory regions may share an address (RAM at the flash origin would link .data over code)."""
    ordered = sorted(regions, key=lambda r: r.origin)
    for a, b in zip(ordered, ordered[1:]):
        if b.origin < a.origin + a.size:
            raise UserError(f"board file {src}: key 'memory.{b.name}.origin' = {b.origin:#x} overlaps memory.{a.name} "
                            f"({a.origin:#x}..{a.origin + a.size - 1:#x}); move it to {a.origin + a.size:#x} or "
                            "above, or shrink the regions")


def _parse_uart(u: dict | None, src: str) -> Uart | None:
    if u is None:
        return None
    _check_keys("uart.", u, _UART, src)
    for key in ("kind", "base"):
        if key not in u:
            raise UserError(f"board file {src}: missing key 'uart.{key}'")
    if not 0 <= u["base"] < ADDRESS_SPACE:
        raise UserError(f"board file {src}: key 'uart.base' = {u['base']:#x} is outside the 32-bit address space")
    if u["kind"] not in UART_KINDS:
        raise UserError(f"board file {src}: key 'uart.kind' = {u['kind']!r}; use one of {', '.join(UART_KINDS)}")
    clock = u.get("clock_hz", 16_000_000)
    if not CLOCK_RANGE[0] <= clock <= CLOCK_RANGE[1]:
        raise UserError(f"board file {src}: key 'uart.clock_hz' = {clock:,} is not a plausible peripheral clock; "
                        f"give Hz in {CLOCK_RANGE[0]:,}..{CLOCK_RANGE[1]:,}")
    baud = u.get("baud", 115200)
    if baud <= 0 or (u["kind"] == "nrf52" and baud not in NRF52_BAUD):
        raise UserError(f"board file {src}: key 'uart.baud' = {baud} is not a supported rate"
                        + (f" for nrf52 ({', '.join(map(str, NRF52_BAUD))})" if u["kind"] == "nrf52" else ""))
    setup = []
    for i, w in enumerate(u.get("setup", [])):
        if not (isinstance(w, list) and len(w) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < ADDRESS_SPACE for v in w)):
            raise UserError(f"board file {src}: key 'uart.setup[{i}]' must be [address, clear_mask, set_bits], got {w!r}")
        setup.append(tuple(w))
    return Uart(u["kind"], u["base"], baud, u.get("clock_hz", 16_000_000), u.get("tx_pin", 0), tuple(setup))


def _board_files() -> dict[str, Any]:
    root = resources.files("edgeformer.boards")
    return {p.name[:-5]: p for p in root.iterdir() if p.name.endswith(".toml")}


def list_boards() -> list[Board]:
    return [load_board(n) for n in sorted(_board_files())]


def load_board(name: str | Path) -> Board:
    """A board by name (boards/NAME.toml) or by path to a .toml file (a user's own board)."""
    if str(name).endswith(".toml"):
        path = Path(name)
        if path.is_dir():
            raise UserError(f"board file {path} is a folder; give the .toml file itself")
        if not path.is_file():
            raise UserError(f"board file {path} does not exist; give a board name (edgeformer boards) or a .toml path")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"board file {path} is not UTF-8 text; write it as TOML (see boards/*.toml)") from None
        return parse_board(text, str(path))
    files = _board_files()
    if name not in files:
        raise UserError(f"unknown board {name!r}; known boards: {', '.join(sorted(files))} "
                        "(or pass a path to a board .toml)")
    board = parse_board(files[name].read_text(), f"boards/{name}.toml")
    if board.name != name:
        raise UserError(f"board file boards/{name}.toml: key 'name' = {board.name!r} must match the file name")
    return board
