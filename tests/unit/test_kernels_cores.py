"""The fast int8 kernels stay bit-exact to the reference kernels on issue 17's cores: the
Cortex-M55 (Helium: ef_mve.c) on mps3-an547, the M33 (DSP extension) on mps2-an505 and the
v6-M path (no SMLAD, SXTB16, hardware divide or unaligned access) on the nRF51 stand-in.
The cases, driver and seed are test_kernels_fast.py's; the M0 build links for the RP2040
board, whose 264 KiB hold the driver's 96 KiB buffer (the micro:bit's 16 KiB do not)."""
from __future__ import annotations

import pytest

from tests.kernel_harness import run_target_driver
from tests.unit.test_kernels_fast import DRIVER, _cases, _check, _stream


@pytest.mark.parametrize("board_name", ["mps3-an547", "b-u585i-iot02a", "rpi-pico"])
def test_fast_kernels_on_new_cores(tmp_path, board_name):
    cases = _cases()
    _check(cases, *run_target_driver(tmp_path, board_name, DRIVER, _stream(cases), timeout=300, no_warnings=True))
