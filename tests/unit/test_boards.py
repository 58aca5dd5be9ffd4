"""Board files: every shipped board loads; a malformed file names the bad key."""
import pytest

from edgeformer.errors import UserError
from edgeformer.runtime.boards import list_boards, load_board, parse_board, parse_bytes

ISSUE_BOARDS = {  # name: (core, clock_hz, sram_bytes, flash_bytes, simulator)
    "stm32f746g-disco": ("cortex-m7", 216_000_000, 320 << 10, 1 << 20, "mps2-an500"),
    "nucleo-f411re": ("cortex-m4", 100_000_000, 128 << 10, 512 << 10, "mps2-an386"),
    "nucleo-h743zi": ("cortex-m7", 480_000_000, (512 + 128) << 10, 2 << 20, "mps2-an500"),
    "nrf52840-dk": ("cortex-m4", 64_000_000, 256 << 10, 1 << 20, "mps2-an386"),
    "stm32f427": ("cortex-m4", 180_000_000, 256 << 10, 2 << 20, "mps2-an386"),
    "mps2-an500": ("cortex-m7", 25_000_000, 4 << 20, 4 << 20, "mps2-an500"),
    "mps2-an386": ("cortex-m4", 25_000_000, 4 << 20, 4 << 20, "mps2-an386"),
}

GOOD = """
name = "tiny"
core = "cortex-m4"
clock_hz = 1_000_000
simulator = "mps2-an386"
[memory.flash]
origin = 0x0
size = "64KiB"
[memory.ram]
origin = 0x20000000
size = 8192
"""


@pytest.mark.parametrize("name", sorted(ISSUE_BOARDS))
def test_issue_boards_load_with_their_numbers(name):
    b = load_board(name)
    s = b.summary()
    assert (s["core"], s["clock_hz"], s["sram_bytes"], s["flash_bytes"], s["simulator"]) == ISSUE_BOARDS[name]
    assert b.target.qemu_machine == b.simulator  # M7 boards on an500, M4 boards on an386


def test_every_board_file_loads():
    assert {b.name for b in list_boards()} >= set(ISSUE_BOARDS)


def test_parse_bytes():
    assert parse_bytes("320KiB") == 327680 and parse_bytes("1MiB") == 1 << 20 and parse_bytes("327680") == 327680
    with pytest.raises(UserError, match="320XB"):
        parse_bytes("320XB")


def test_a_good_board_and_a_region_split():
    b = parse_board(GOOD, "tiny.toml")
    assert (b.ram.size, b.flash.size, b.sram_bytes) == (8192, 65536, 8192)
    h7 = load_board("nucleo-h743zi")
    assert h7.ram.size == 512 << 10 and h7.ram.origin == 0x24000000  # the arena goes to AXI SRAM


@pytest.mark.parametrize("text, key", [
    (GOOD.replace("clock_hz", "clock"), "clock"),                          # unknown key
    (GOOD.replace('core = "cortex-m4"', 'core = "cortex-m99"'), "core"),     # unknown core
    (GOOD.replace('size = "64KiB"', 'size = "lots"'), "memory.flash.size"),  # bad bytes
    (GOOD.replace("[memory.ram]", "[memory.sram]"), "memory.ram"),          # required region missing
    (GOOD.replace("clock_hz = 1_000_000", 'clock_hz = "fast"'), "clock_hz"),  # wrong type
    (GOOD.replace('simulator = "mps2-an386"', 'simulator = "qemu-x"'), "simulator"),
    (GOOD + "[probe]\nstlink = 1\n", "probe.stlink"),
    (GOOD + "[memory.ram.extra]\n", "memory.ram.extra"),
    ("name = ", "not valid TOML"),
])
def test_malformed_board_names_the_key(text, key):
    with pytest.raises(UserError) as e:
        parse_board(text, "bad.toml")
    assert key in str(e.value) and "bad.toml" in str(e.value)


def test_unknown_board_lists_the_names():
    with pytest.raises(UserError) as e:
        load_board("stm32f999")
    assert "stm32f746g-disco" in str(e.value) and "nucleo-f411re" in str(e.value)
