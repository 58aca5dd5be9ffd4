"""Run firmware on QEMU's MPS2 machines with semihosting and `-icount shift=0`.

With -icount shift=0 every guest instruction advances the virtual clock by 1 ns, so the
SysTick (clocked at the machine's 25 MHz) advances once per 40 instructions: profile counts
are deterministic instruction counts. Every run has a hard timeout; a crash or hang becomes
a FirmwareError quoting what the firmware printed.
"""
from __future__ import annotations

import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeformer.errors import EdgeformerError
from edgeformer.runtime.cross import find_tool

ICOUNT_SHIFT = 0
EXIT_MEANING = {1: "the model returned an error", 2: "host file I/O failed", 4: "the CPU faulted"}


class FirmwareError(EdgeformerError):
    """The firmware crashed, hung or reported an error (exit 1)."""


def instructions_per_tick(cpu_hz: int, shift: int = ICOUNT_SHIFT) -> float:
    """Instructions per SysTick tick under -icount: 1e9 / (2**shift * cpu_hz)."""
    ns_per_insn = 2 ** shift
    return 1e9 / cpu_hz / ns_per_insn   # 40 at 25 MHz; 31.25 on the an547 (32 MHz), not rounded


def qemu_command(elf: Path, machine: str) -> list[str]:
    """machine: a stand-in name (targets/standins.py), which gives -M and any memory sizing."""
    from edgeformer.targets.standins import stand_in

    return [find_tool("qemu-system-arm", "qemu-system-arm"), *stand_in(machine).qemu_args(elf), "-nographic",
            "-monitor", "none",
            "-serial", "none", "-semihosting-config", "enable=on,target=native",
            "-icount", f"shift={ICOUNT_SHIFT}", "-kernel", str(elf)]


@dataclass
class QemuResult:
    out: bytes
    profile: bytes
    console: str


def run_qemu(elf: Path, machine: str, data: bytes, timeout: float = 120.0) -> QemuResult:
    """Run `elf` once: `data` is in.bin; returns out.bin, profile.bin and the console text."""
    with tempfile.TemporaryDirectory(prefix="edgeformer-qemu-") as tmp:
        tmp = Path(tmp)
        (tmp / "in.bin").write_bytes(data)
        try:
            r = subprocess.run(qemu_command(Path(elf).resolve(), machine), cwd=tmp, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            said = _text(e.stdout, e.stderr)
            raise FirmwareError(f"firmware {elf} hung on {machine}: no exit after {timeout:.0f} s (QEMU killed); "
                                f"it printed: {said or '(nothing)'}") from None
        said = _text(r.stdout, r.stderr)
        if r.returncode != 0:
            why = EXIT_MEANING.get(r.returncode, "unexpected exit")
            raise FirmwareError(f"firmware {elf} on {machine} exited with status {r.returncode} ({why}); "
                                f"it printed: {said or '(nothing)'}")
        out = (tmp / "out.bin").read_bytes() if (tmp / "out.bin").exists() else b""
        prof = (tmp / "profile.bin").read_bytes() if (tmp / "profile.bin").exists() else b""
        return QemuResult(out, prof, said)


def _text(*parts) -> str:
    return " ".join((p.decode(errors="replace") if isinstance(p, bytes) else (p or "")).strip()
                    for p in parts if p).strip()[-2000:]


def pack_inputs(arrays: list[np.ndarray], steps: int) -> bytes:
    """in.bin: header (samples, steps) + per sample its inputs' bytes (see firmware/main.c)."""
    n = len(arrays[0])
    flat = [np.ascontiguousarray(a).reshape(n, -1).view(np.uint8) for a in arrays]
    body = b"".join(f[i].tobytes() for i in range(n) for f in flat)
    return struct.pack("<II", n, steps) + body


def parse_profile(raw: bytes) -> dict:
    """profile.bin -> {ops: [(name, counts)], gap, runs} (counts summed over runs)."""
    if len(raw) < 24 or raw[:4] != b"EFP1":
        raise FirmwareError("firmware wrote no valid profile.bin")
    n_ops, runs = struct.unpack_from("<II", raw, 4)
    (gap,) = struct.unpack_from("<Q", raw, 16)
    counts = struct.unpack_from(f"<{n_ops}Q", raw, 24)
    names = raw[24 + 8 * n_ops:].split(b"\0")[:n_ops]
    ops = [(nm.decode(errors="replace") or f"op{i}", c) for i, (nm, c) in enumerate(zip(names, counts))]
    (stack,) = struct.unpack_from("<I", raw, 12)   # the firmware's stack high-water mark (firmware/stack.c)
    return {"ops": ops, "gap": gap, "runs": runs, "stack_bytes": stack}
