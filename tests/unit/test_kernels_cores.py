"""The fast int8 kernels stay bit-exact to the reference kernels on issue 17's cores: the
Cortex-M55 (Helium: ef_mve.c) on mps3-an547, the M33 (DSP extension) on mps2-an505 and the
v6-M path (no SMLAD, SXTB16, hardware divide or unaligned access) on the nRF51 stand-in.
The cases, driver and seed are test_kernels_fast.py's; the M0 build links for the RP2040
board, whose 264 KiB hold the driver's 96 KiB buffer (the micro:bit's 16 KiB do not)."""
from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import pytest

from tests.unit.test_kernels_fast import DRIVER, FIRMWARE, KERNELS, TARGET_IO, _cases, _check, _sources, _stream


@pytest.mark.parametrize("board_name", ["mps3-an547", "b-u585i-iot02a", "rpi-pico"])
def test_fast_kernels_on_new_cores(tmp_path, board_name):
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import linker_script
    from edgeformer.runtime.qemu import run_qemu

    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("qemu-system-arm"):
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm not installed")
    board = load_board(board_name)
    tgt = board.target
    (tmp_path / "driver.c").write_text(DRIVER)
    (tmp_path / "io.c").write_text(TARGET_IO)
    (tmp_path / "link.ld").write_text(linker_script(board, "sim"))
    startup = resources.files("edgeformer.boards").joinpath("startup_cortex_m.c")
    elf = tmp_path / "kt.elf"
    r = subprocess.run([tgt.cc, *tgt.cflags, f"-I{KERNELS}", f"-I{FIRMWARE}", str(startup),
                        str(FIRMWARE / "semihost.c"), str(tmp_path / "driver.c"), str(tmp_path / "io.c"),
                        *_sources(), *tgt.ldflags, f"-T{tmp_path / 'link.ld'}", "-lm", "-o", str(elf)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not [ln for ln in r.stderr.splitlines() if "warning" in ln], r.stderr[-2000:]
    cases = _cases()
    res = run_qemu(elf, board.simulator, _stream(cases), timeout=300)
    _check(cases, res.out, f"{board_name} ({board.core}, QEMU {board.simulator})")
