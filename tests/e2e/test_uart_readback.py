"""UART read-back: the image pyOCD / st-flash boards run (inputs in flash, outputs and profile
streamed out of a UART), exercised end to end under QEMU's CMSDK UART; device images build
for every board with a [uart] table and link no semihosting; an STM32F4 board's device image
itself runs on QEMU's STM32F405 (netduinoplus2) and reads back through its real USART."""
import json

import pytest

from edgeformer.runtime.boards import list_boards
from edgeformer.runtime.cross import build_firmware
from edgeformer.runtime.qemu import pack_inputs
from tests.conftest import run_cli, run_json


@pytest.fixture(scope="module")
def lmu(tmp_path_factory):
    art = tmp_path_factory.mktemp("lmu") / "art"
    run_json("export", "--model", "lmuformer-tiny", "--out", art)
    return art


def test_uart_run_matches_onnxruntime_and_the_semihosted_run(lmu):
    uart = run_json("run", lmu, "--board", "nucleo-f411re", "--io", "uart", "--inputs", "4")
    semi = run_json("run", lmu, "--board", "nucleo-f411re", "--inputs", "4")
    assert uart["passed"] and uart["io"] == "uart" and uart["top1_agreement"] == 1.0
    assert uart["max_abs_diff"] == semi["max_abs_diff"]


def test_stm32f4_device_image_reads_back_on_the_emulated_part(lmu):
    # The ELF st-flash would write to a NUCLEO-F411RE (0x08000000, USART2 on -serial 1), unchanged.
    dev = run_json("run", lmu, "--board", "nucleo-f411re", "--io", "uart", "--image", "device", "--inputs", "2")
    assert dev["passed"] and dev["top1_agreement"] == 1.0 and dev["max_abs_diff_steps"] <= 2
    assert (dev["simulator"], dev["image"], dev["io"]) == ("netduinoplus2", "device", "uart")
    rec = json.loads((lmu / "build" / "nucleo-f411re" / "device-uart" / "build.json").read_text())
    assert rec["image"] == "device" and rec["io"] == "uart"


@pytest.mark.parametrize("args, needle", [
    (["--board", "stm32f746g-disco", "--io", "uart", "--image", "device"], "emulator"),   # an F7: no part machine
    (["--board", "nucleo-f411re", "--image", "device"], "--io uart"),
])
def test_device_image_runs_only_where_a_part_is_emulated(lmu, args, needle):
    before = sorted(p.name for p in (lmu / "build").glob("*")) if (lmu / "build").exists() else []
    p = run_cli("run", lmu, *args, check=2)
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert (sorted(p.name for p in (lmu / "build").glob("*")) if (lmu / "build").exists() else []) == before


def test_the_profile_table_holds_every_op_and_row_loop_part(lmu):
    import re
    sig = json.loads((lmu / "export.json").read_text())["signature"]
    model_c = (lmu / "c" / "model.c").read_text()
    parts = set(re.findall(r"EF_PROFILE_PART\((\d+)\)", model_c))
    assert sig["ops"] == len(set(re.findall(r"EF_PROFILE_BEGIN\((\d+)\)", model_c)))
    assert sig["profile_slots"] == sig["ops"] + len(parts)


def test_device_uart_images_build_without_semihosting(lmu):
    from elftools.elf.elffile import ELFFile

    import numpy as np
    data = pack_inputs([np.zeros((1, 4, 13), np.float32)], 4)
    boards = [b for b in list_boards() if b.uart is not None and b.probes]
    assert {"stm32f746g-disco", "nucleo-f411re", "nucleo-h743zi", "nrf52840-dk", "stm32f427"} <= {b.name for b in boards}
    for board in boards:
        rec = build_firmware(lmu, board, "device", io="uart", samples=data)
        with open(rec["elf"], "rb") as fh:
            names = {s.name for s in ELFFile(fh).get_section_by_name(".symtab").iter_symbols()}
        assert "uart_init" in names and "sh_exit" not in names, board.name
        assert rec["io"] == "uart" and rec["arena_bytes"] == json.loads((lmu / "plan.json").read_text())["arena_bytes"]
        assert rec["profile_slots"] == json.loads((lmu / "export.json").read_text())["signature"]["profile_slots"]


def test_flash_port_errors_exit_2_before_building(lmu):
    before = sorted((p, p.stat().st_mtime_ns) for p in lmu.rglob("*"))
    p = run_cli("flash", lmu, "--board", "stm32f746g-disco", "--probe", "pyocd", "--port", "/dev/ttyNONE", check=2)
    assert "error" in p.stderr.lower()
    assert sorted((p, p.stat().st_mtime_ns) for p in lmu.rglob("*")) == before  # nothing built or written
