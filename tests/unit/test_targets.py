"""Targets (cores), the linker script, probe commands and the SysTick instruction scale."""
from pathlib import Path

import pytest

from edgeformer.errors import UserError
from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import linker_script
from edgeformer.runtime.flash import check_probe, flash_commands
from edgeformer.runtime.qemu import instructions_per_tick
from edgeformer.targets.cores import TARGETS, target


def test_cores_have_flags_simulator_and_cycle_source():
    for name, fpu, qemu in [("cortex-m7", "fpv5-d16", "mps2-an500"), ("cortex-m4", "fpv4-sp-d16", "mps2-an386")]:
        t = target(name)
        assert f"-mcpu={name}" in t.cflags and f"-mfpu={fpu}" in t.cflags and "-mfloat-abi=hard" in t.cflags
        assert "-O2" in t.cflags and "-ffunction-sections" in t.cflags and "-Wl,--gc-sections" in t.ldflags
        assert t.qemu_machine == qemu
        assert t.cycle_source == {"qemu": "systick", "device": "dwt_cyccnt"}
    assert {"cortex-m55", "host", "cuda"} <= set(TARGETS)
    with pytest.raises(UserError, match="cortex-m7"):
        target("cortex-a53")


def test_sysTick_scale_under_icount():
    # -icount shift=0: 1 ns per instruction; the MPS2 SysTick runs at 25 MHz (40 ns)
    assert instructions_per_tick(25_000_000) == 40


def test_linker_script_sim_vs_device_addresses():
    b = load_board("stm32f746g-disco")
    sim, dev = linker_script(b, "sim"), linker_script(b, "device")
    assert "ORIGIN = 0x0, LENGTH = 1048576" in sim and "ORIGIN = 0x20000000, LENGTH = 327680" in sim
    assert "ORIGIN = 0x8000000, LENGTH = 1048576" in dev and "@" not in dev


def test_flash_command_construction():
    b, elf = load_board("stm32f746g-disco"), Path("/a/firmware.elf")
    (oc,) = flash_commands(b, "openocd", elf)
    assert oc[:3] == ["openocd", "-f", "board/stm32f7discovery.cfg"]
    assert "program /a/firmware.elf verify" in oc and "arm semihosting enable" in oc
    load, reset = flash_commands(b, "pyocd", elf)
    assert load == ["pyocd", "load", "--target", "stm32f746nghx", "/a/firmware.elf"] and reset[1] == "reset"
    objcopy, st = flash_commands(b, "stlink", elf, Path("/t/fw.bin"))
    assert objcopy == ["arm-none-eabi-objcopy", "-O", "binary", "/a/firmware.elf", "/t/fw.bin"]
    assert st == ["st-flash", "--reset", "write", "/t/fw.bin", "0x8000000"]
    (nrf,) = flash_commands(load_board("nrf52840-dk"), "openocd", elf)
    assert "target/nrf52.cfg" in nrf


def test_probe_detection():
    b = load_board("nucleo-f411re")
    with pytest.raises(UserError, match=r"no debug probe found \(tried stlink"):
        check_probe(b, "stlink", usb=set())
    with pytest.raises(UserError, match="stlink"):  # the nRF52840-DK has a J-Link, not an ST-LINK
        check_probe(load_board("nrf52840-dk"), "stlink", usb={("0483", "374b")})
    with pytest.raises(UserError, match="simulator only"):
        check_probe(load_board("mps2-an500"), "openocd", usb=set())
