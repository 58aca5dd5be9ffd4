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
    # issue 17: the cores users ship on today
    "mps3-an547": ("cortex-m55", 32_000_000, 512 << 10, 512 << 10, "mps3-an547"),
    "mps2-an505": ("cortex-m33", 20_000_000, 4 << 20, 4 << 20, "mps2-an505"),
    "alif-e7-hp": ("cortex-m55", 400_000_000, (1024 + 256) << 10, 5632 << 10, "mps3-an547"),
    "b-u585i-iot02a": ("cortex-m33", 160_000_000, (768 + 16) << 10, 2 << 20, "mps2-an505"),
    "nrf5340-dk": ("cortex-m33", 128_000_000, 512 << 10, 1 << 20, "mps2-an505"),
    "microbit": ("cortex-m0", 16_000_000, 16 << 10, 256 << 10, "microbit"),
    "rpi-pico": ("cortex-m0plus", 125_000_000, 264 << 10, 2 << 20, "microbit"),
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
    assert b.target.qemu_machine == b.simulator  # M7 on an500, M4 on an386, M55 an547, M33 an505, M0 microbit


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


@pytest.mark.parametrize("text, needle", [
    (GOOD.replace('name = "tiny"', 'name = "../../etc/evil"'), "'name'"),             # path escape
    (GOOD.replace('name = "tiny"', 'name = "a/b"'), "'name'"),                        # separator
    (GOOD.replace('name = "tiny"', 'name = "a\\\\b"'), "'name'"),                     # Windows separator
    (GOOD.replace('name = "tiny"', 'name = ".."'), "'name'"),
    (GOOD.replace("origin = 0x20000000", "origin = 0x0"), "'memory.ram.origin' = 0x0 overlaps memory.flash"),
    (GOOD.replace("origin = 0x20000000", "origin = 0x8000"), "overlaps"),             # inside flash's 64 KiB
    (GOOD.replace("size = 8192", "size = 1_000_000_000_000"), "'memory.ram.size'"),    # 10^12 bytes of RAM
    (GOOD.replace("size = 8192", 'size = "100000MiB"'), "not a plausible microcontroller size"),
    (GOOD.replace("size = 8192", "size = 0"), "'memory.ram.size'"),
    (GOOD.replace('size = "64KiB"', 'size = "1024MiB"'), "'memory.flash.size'"),
    (GOOD.replace("origin = 0x20000000", "origin = 0xFFFFF000"), "32-bit address space"),
    (GOOD.replace("origin = 0x20000000", "origin = -4096"), "32-bit address space"),
    (GOOD.replace("clock_hz = 1_000_000", "clock_hz = 10_000_000_000_000"), "'clock_hz'"),
    (GOOD + '[uart]\nkind = "cmsdk"\nbase = 0x1_0000_0000\n', "'uart.base'"),
])
def test_implausible_boards_are_refused_naming_the_key(text, needle):
    with pytest.raises(UserError) as e:
        parse_board(text, "bad.toml")
    assert needle in str(e.value) and "bad.toml" in str(e.value)


def test_adjacent_regions_and_shipped_boards_do_not_overlap():
    b = parse_board(GOOD.replace("origin = 0x20000000", "origin = 0x10000"), "ok.toml")  # right after flash
    assert b.ram.origin == 0x10000
    for board in list_boards():
        spans = sorted((r.origin, r.origin + r.size) for r in board.regions)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), board.name


def test_parse_bytes_with_a_plausible_range():
    from edgeformer.runtime.boards import RAM_RANGE
    assert parse_bytes("64KiB", "--sram", *RAM_RANGE) == 65536
    for bad in ("1e26", "100000000000000000000000000", "0", "512", "65MiB"):
        with pytest.raises(UserError, match="1 KiB..64 MiB"):
            parse_bytes(bad, "--sram", *RAM_RANGE)


def test_board_path_that_is_a_folder_or_binary(tmp_path):
    (tmp_path / "b.toml").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        load_board(str(tmp_path / "b.toml"))
    (tmp_path / "c.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="not UTF-8"):
        load_board(str(tmp_path / "c.toml"))


def test_emulator_key_names_a_part_machine_that_has_the_board_s_usart():
    from edgeformer.runtime.part_qemu import part_machine
    assert {b.name for b in list_boards() if b.emulator} == {"nucleo-f411re", "stm32f427"}
    assert [part_machine(load_board(n)).serial_index(load_board(n).uart.base) for n in ("stm32f427", "nucleo-f411re")] \
        == [0, 1]                                        # USART1 on -serial 0, USART2 on -serial 1
    with pytest.raises(UserError, match="'emulator' = 'stm32vldiscovery'; use one of netduinoplus2"):
        parse_board('emulator = "stm32vldiscovery"\n' + GOOD)
    with pytest.raises(UserError, match="names no emulator"):
        part_machine(load_board("stm32f746g-disco"))
    wrong = 'emulator = "netduinoplus2"\n' + GOOD + '[uart]\nkind = "stm32-v1"\nbase = 0x40013000\n'     # SPI1's address, not a USART
    with pytest.raises(UserError, match="not one of netduinoplus2's USARTs"):
        part_machine(parse_board(wrong))
