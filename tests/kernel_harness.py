"""One harness for kernel tests that stream cases through a C driver: built for the host
(stdin/stdout) or for a board's QEMU stand-in (semihosted in.bin/out.bin).

A driver defines `int kt_run(void)` and reads/writes with io_read/io_write; the harness
supplies those and main().
"""
from __future__ import annotations

import shutil
import struct
import subprocess
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "export" / "kernels"
FIRMWARE = ROOT / "runtime" / "firmware"

HOST_IO = r"""
#include <stdio.h>
#include <stdint.h>
int kt_run(void);
int io_read(void *buf, uint32_t n) { return fread(buf, 1, n, stdin) != n; }
int io_write(const void *buf, uint32_t n) { return fwrite(buf, 1, n, stdout) != n; }
int main(void) { return kt_run(); }
"""

TARGET_IO = r"""
#include <stdint.h>
#include "semihost.h"
int kt_run(void);
static int fin, fout;
int io_read(void *buf, uint32_t n) { return sh_read(fin, buf, n) != 0; }
int io_write(const void *buf, uint32_t n) { return sh_write(fout, buf, n) != 0; }
int main(void)
{
    fin = sh_open("in.bin", SH_MODE_RB);
    fout = sh_open("out.bin", SH_MODE_WB);
    if (fin < 0 || fout < 0) return 2;
    int st = kt_run();
    sh_close(fin); sh_close(fout);
    return st;
}
"""


def i32(*v) -> bytes:
    return struct.pack(f"<{len(v)}i", *[int(x) for x in v])


def kernel_sources() -> list[str]:
    return [str(p) for p in sorted(KERNELS.glob("ef_*.c"))]


def build_host_driver(tmp: Path, driver: str, werror: bool = False) -> Path:
    cc = shutil.which("cc") or pytest.skip("no host C compiler")
    (tmp / "driver.c").write_text(driver)
    (tmp / "io.c").write_text(HOST_IO)
    exe = tmp / "kt"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", *(["-Werror"] if werror else []), f"-I{KERNELS}",
                    str(tmp / "driver.c"), str(tmp / "io.c"), *kernel_sources(), "-lm", "-o", str(exe)], check=True)
    return exe


def build_target_driver(tmp: Path, board_name: str, driver: str, no_warnings: bool = False):
    """(board, ELF) of the driver for the board's QEMU stand-in (its sim memory map)."""
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import linker_script

    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("qemu-system-arm"):
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm not installed")
    board = load_board(board_name)
    tgt = board.target
    (tmp / "driver.c").write_text(driver)
    (tmp / "io.c").write_text(TARGET_IO)
    (tmp / "link.ld").write_text(linker_script(board, "sim"))
    startup = resources.files("edgeformer.boards").joinpath("startup_cortex_m.c")
    elf = tmp / "kt.elf"
    r = subprocess.run([tgt.cc, *tgt.cflags, f"-I{KERNELS}", f"-I{FIRMWARE}", str(startup),
                        str(FIRMWARE / "semihost.c"), str(tmp / "driver.c"), str(tmp / "io.c"),
                        *kernel_sources(), *tgt.ldflags, f"-T{tmp / 'link.ld'}", "-lm", "-o", str(elf)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    if no_warnings:
        assert not [ln for ln in r.stderr.splitlines() if "warning" in ln], r.stderr[-2000:]
    return board, elf


def run_host_driver(tmp: Path, driver: str, stream: bytes, werror: bool = False) -> bytes:
    """The driver's output for `stream` on the host."""
    exe = build_host_driver(tmp, driver, werror)
    r = subprocess.run([str(exe)], input=stream, capture_output=True, timeout=60)
    assert r.returncode == 0, f"driver exited {r.returncode}: {r.stderr.decode()[:500]}"
    return r.stdout


def run_target_driver(tmp: Path, board_name: str, driver: str, stream: bytes, timeout: float = 120,
                      no_warnings: bool = False) -> tuple[bytes, str]:
    """The driver's output for `stream` on the board's QEMU stand-in, and where it ran."""
    from edgeformer.runtime.qemu import run_qemu
    board, elf = build_target_driver(tmp, board_name, driver, no_warnings)
    res = run_qemu(elf, board.simulator, stream, timeout=timeout)
    return res.out, f"{board_name} ({board.core}, QEMU {board.simulator})"
