"""Targets (cores), the linker script, probe commands and the SysTick instruction scale."""
from pathlib import Path

import pytest

from edgeformer.errors import UserError
from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import linker_script
from edgeformer.runtime.flash import check_probe, flash_commands
from edgeformer.runtime.qemu import instructions_per_tick
from edgeformer.targets.cores import TARGETS, target
from edgeformer.targets.standins import STAND_INS, stand_in


def test_cores_have_flags_simulator_and_cycle_source():
    for name, fpu, qemu in [("cortex-m7", "fpv5-d16", "mps2-an500"), ("cortex-m4", "fpv4-sp-d16", "mps2-an386")]:
        t = target(name)
        assert f"-mcpu={name}" in t.cflags and f"-mfpu={fpu}" in t.cflags and "-mfloat-abi=hard" in t.cflags
        assert "-O2" in t.cflags and "-ffunction-sections" in t.cflags and "-Wl,--gc-sections" in t.ldflags
        assert t.qemu_machine == qemu
        assert t.cycle_source == {"qemu": "systick", "device": "dwt_cyccnt"}
    assert {"cortex-m55", "cortex-m33", "cortex-m0", "cortex-m0plus", "host", "cuda"} <= set(TARGETS)
    with pytest.raises(UserError, match="cortex-m7"):
        target("cortex-a53")


def test_sysTick_scale_under_icount():
    # -icount shift=0: 1 ns per instruction; the MPS2 SysTick runs at 25 MHz (40 ns)
    assert instructions_per_tick(25_000_000) == 40
    # measured with a 200,000-instruction loop: 6,400 ticks on the an547, 4,000 on the an505,
    # 3,200 on the micro:bit
    assert [instructions_per_tick(target(c).qemu_cpu_hz) for c in ("cortex-m55", "cortex-m33", "cortex-m0")] \
        == [31.25, 50, 62.5]


@pytest.mark.parametrize("core, cpu, float_abi, qemu, feature", [
    ("cortex-m55", "cortex-m55", "-mfpu=auto", "mps3-an547", "mve"),
    ("cortex-m33", "cortex-m33", "-mfpu=fpv5-sp-d16", "mps2-an505", "dsp"),
    ("cortex-m0", "cortex-m0", "-mfloat-abi=soft", "microbit", None),
    ("cortex-m0plus", "cortex-m0plus", "-mfloat-abi=soft", "microbit", None),
])
def test_new_cores(core, cpu, float_abi, qemu, feature):
    t = target(core)
    assert f"-mcpu={cpu}" in t.cflags and float_abi in t.cflags and "-O2" in t.cflags
    assert t.qemu_machine == qemu and t.stand_in.machine == qemu and t.qemu_cpu_hz == t.stand_in.cpu_hz
    assert (feature in t.features) if feature else t.features == ()
    if feature is None:  # v6-M: no FPU flags, no DWT cycle counter
        assert not any(f.startswith("-mfpu") for f in t.cflags) and t.cycle_source["device"] == "systick"


def test_stand_in_memory_maps():
    """The maps read from QEMU 7.2's `info mtree` (targets/standins.py)."""
    got = {n: (s.flash_origin, s.flash_bytes, s.ram_origin, s.ram_bytes) for n, s in STAND_INS.items()}
    assert got["mps3-an547"] == (0x0, 512 << 10, 0x20000000, 512 << 10)           # ITCM, DTCM
    assert got["mps2-an505"] == (0x10000000, 4 << 20, 0x38000000, 4 << 20)       # secure SSRAM1, SSRAM2/3
    assert got["microbit"] == (0x0, 256 << 10, 0x20000000, 16 << 10)
    assert got["mps2-an500"] == got["mps2-an386"] == (0x0, 4 << 20, 0x20000000, 4 << 20)
    with pytest.raises(UserError, match="microbit"):
        stand_in("lm3s6965evb")


def test_linker_script_uses_the_stand_in_map():
    sim = linker_script(load_board("b-u585i-iot02a"), "sim")
    assert "ORIGIN = 0x10000000, LENGTH = 2097152" in sim and "ORIGIN = 0x38000000, LENGTH = 786432" in sim
    dev = linker_script(load_board("b-u585i-iot02a"), "device")
    assert "ORIGIN = 0x8000000, LENGTH = 2097152" in dev and "ORIGIN = 0x20000000, LENGTH = 786432" in dev
    sim = linker_script(load_board("rpi-pico"), "sim")   # RP2040 sizes at the nRF51's origins
    assert "ORIGIN = 0x0, LENGTH = 2097152" in sim and "ORIGIN = 0x20000000, LENGTH = 270336" in sim


def test_microbit_stand_in_grows_only_for_a_bigger_image(tmp_path):
    """A micro:bit image gets the nRF51's own 16 KiB; an RP2040 image linked for 264 KiB gets
    the SRAM it places (-global nrf51-soc.sram-size)."""
    import subprocess

    mb = stand_in("microbit")
    assert mb.qemu_args() == ["-M", "microbit"]
    elf = tmp_path / "big.elf"
    src = tmp_path / "big.c"
    src.write_text("char big[40000]; int main(void) { return big[1]; }\nvoid _start(void) { main(); }\n")
    r = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0", "-mthumb", "-nostdlib", "-Wl,-Ttext=0x0",
                        "-Wl,-Tbss=0x20000000", str(src), "-o", str(elf)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"arm-none-eabi-gcc: {r.stderr[:200]}")
    args = mb.qemu_args(elf)
    assert args[:2] == ["-M", "microbit"] and "nrf51-soc.sram-size=40960" in args
    assert not any("flash-size" in a for a in args)


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
