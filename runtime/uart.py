"""UART read-back: decode the stream of firmware/main_uart.c, from QEMU's -serial or a real port.

The same decoder serves all three: under QEMU the MPS2 CMSDK UART0 goes to a file (`-serial
file:`), semihosting only ends the run; the device image on the QEMU machine of its part
(runtime/part_qemu.py) streams out of the board's own USART; on a board flashed with pyOCD or
st-flash the bytes come from its USB-serial port (pyserial). A stream that stops short, fails its CRC or reports
a model error becomes a FirmwareError saying which.
"""
from __future__ import annotations

import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from edgeformer.errors import UserError
from edgeformer.runtime.qemu import EXIT_MEANING, FirmwareError, _text, qemu_command

MAGIC = b"EFU1"


@dataclass
class UartResult:
    out: bytes        # out.bin's layout: per sample and step, every output back to back
    profile: bytes    # profile.bin's layout
    samples: int
    steps: int


class Incomplete(FirmwareError):
    """The stream ended before its trailer (still running, or the firmware died)."""


def decode(raw: bytes) -> UartResult:
    """Parse one whole stream (bytes before the magic, e.g. boot noise, are skipped)."""
    start = raw.find(MAGIC)
    if start < 0:
        raise Incomplete(f"no {MAGIC.decode()} header in {len(raw)} bytes from the UART")
    s = raw[start:]
    if len(s) < 16:
        raise Incomplete("the UART stream stops inside its header")
    samples, steps, per = struct.unpack_from("<III", s, 4)
    pos, outs = 16, []
    for i in range(samples * steps):
        tag = s[pos:pos + 1]
        if tag == b"X":
            if len(s) < pos + 5:
                raise Incomplete("the UART stream stops inside an error record")
            (node,) = struct.unpack_from("<I", s, pos + 1)
            where = "the model's init" if node == 0xFFFFFFFF else f"node {node}"
            raise FirmwareError(f"firmware reported a model error at {where} (sample {i // steps}, step {i % steps})")
        if tag != b"O":
            if not tag:
                raise Incomplete(f"the UART stream stops after {i} of {samples * steps} output records")
            raise FirmwareError(f"UART stream corrupt: record {i} starts with {tag!r}, not 'O'")
        if len(s) < pos + 1 + per:
            raise Incomplete(f"the UART stream stops inside output record {i}")
        outs.append(s[pos + 1:pos + 1 + per])
        pos += 1 + per
    if s[pos:pos + 1] != b"P" or len(s) < pos + 5:
        raise Incomplete("the UART stream stops before its profile") if len(s) <= pos + 5 else \
            FirmwareError(f"UART stream corrupt: {s[pos:pos + 1]!r} where the profile should start")
    (n,) = struct.unpack_from("<I", s, pos + 1)
    prof = s[pos + 5:pos + 5 + n]
    pos += 5 + n
    if len(s) < pos + 5:
        raise Incomplete("the UART stream stops before its CRC trailer")
    if s[pos:pos + 1] != b"E":
        raise FirmwareError(f"UART stream corrupt: {s[pos:pos + 1]!r} where the trailer should be")
    (crc,) = struct.unpack_from("<I", s, pos + 1)
    if zlib.crc32(s[:pos + 1]) != crc:
        raise FirmwareError(f"UART stream CRC mismatch (got {crc:#010x}, computed {zlib.crc32(s[:pos + 1]):#010x}): "
                            "bytes were lost or changed on the line; lower the baud rate or re-run")
    return UartResult(b"".join(outs), prof, samples, steps)


def run_qemu_uart(elf: Path, machine: str, timeout: float = 120.0) -> UartResult:
    """Run the sim UART image once in QEMU, its UART0 captured to a file."""
    with tempfile.TemporaryDirectory(prefix="edgeformer-uart-") as tmp:
        log = Path(tmp) / "uart.bin"
        cmd = qemu_command(Path(elf).resolve(), machine)
        cmd[cmd.index("-serial") + 1] = f"file:{log}"
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise FirmwareError(f"firmware {elf} hung on {machine}: no exit after {timeout:.0f} s (QEMU killed); "
                                f"it printed: {_text(e.stdout, e.stderr) or '(nothing)'}") from None
        raw = log.read_bytes() if log.exists() else b""
        if r.returncode not in (0, 1):
            why = EXIT_MEANING.get(r.returncode, "unexpected exit")
            raise FirmwareError(f"firmware {elf} on {machine} exited with status {r.returncode} ({why}); "
                                f"it printed: {_text(r.stdout, r.stderr) or '(nothing)'}; UART: {len(raw)} bytes")
        return decode(raw)


def read_serial(port: str, baud: int, timeout: float) -> UartResult:
    """Read a board's stream from its USB-serial port until the trailer decodes (or timeout)."""
    try:
        import serial
    except ImportError:
        raise UserError("UART read-back needs pyserial: pip install pyserial") from None
    try:
        dev = serial.Serial(port, baud, timeout=0.2)
    except (serial.SerialException, OSError) as e:
        raise UserError(f"cannot open serial port {port}: {e}") from None
    raw, end = b"", time.monotonic() + timeout
    with dev:
        while time.monotonic() < end:
            raw += dev.read(4096)
            try:
                return decode(raw)
            except Incomplete:
                continue
    raise FirmwareError(f"no complete edgeformer stream on {port} within {timeout:.0f} s ({len(raw)} bytes read): "
                        "the firmware hung or faulted, or the port / baud rate is wrong")
