"""The UART read-back stream (firmware/main_uart.c) decoder, and board [uart] tables."""
import struct
import zlib

import pytest

from edgeformer.errors import UserError
from edgeformer.runtime.boards import load_board, parse_board
from edgeformer.runtime.uart import FirmwareError, Incomplete, decode

PROFILE = b"EFP1" + struct.pack("<III", 1, 2, 0) + struct.pack("<QQ", 7, 99) + b"op0\0"


def stream(records, samples=2, steps=1, per=3, profile=PROFILE, crc_ok=True):
    s = b"EFU1" + struct.pack("<III", samples, steps, per)
    s += b"".join(records) + b"P" + struct.pack("<I", len(profile)) + profile + b"E"
    return s + struct.pack("<I", zlib.crc32(s) ^ (0 if crc_ok else 1))


def test_a_whole_stream_decodes_after_boot_noise():
    res = decode(b"\x00\xffboot" + stream([b"Oabc", b"Odef"]))
    assert (res.out, res.profile, res.samples, res.steps) == (b"abcdef", PROFILE, 2, 1)


def test_a_bad_crc_says_bytes_were_lost():
    with pytest.raises(FirmwareError, match="CRC"):
        decode(stream([b"Oabc", b"Odef"], crc_ok=False))


@pytest.mark.parametrize("cut", [3, 10, 18, 22, 30, -3])
def test_a_short_stream_is_incomplete(cut):
    with pytest.raises(Incomplete):
        decode(stream([b"Oabc", b"Odef"])[:cut])


def test_a_model_error_names_the_node():
    s = b"EFU1" + struct.pack("<III", 2, 1, 3) + b"Oabc" + b"X" + struct.pack("<I", 5)
    with pytest.raises(FirmwareError, match="node 5 .sample 1"):
        decode(s)


def test_boards_with_a_uart_port():
    assert load_board("stm32f746g-disco").uart.kind == "stm32-v2"
    assert load_board("nucleo-f411re").uart.divisor() == 16_000_000 // 115200 + 1  # 138.9 -> 139
    assert load_board("nrf52840-dk").uart.divisor() == 0x01D7E000


@pytest.mark.parametrize("extra, key", [
    ('[uart]\nkind = "usb"\nbase = 1\n', "uart.kind"),
    ('[uart]\nbase = 1\n', "uart.kind"),
    ('[uart]\nkind = "cmsdk"\nbase = 1\nsetup = [[1, 2]]\n', "uart.setup[0]"),
    ('[uart]\nkind = "nrf52"\nbase = 1\nbaud = 12345\n', "uart.baud"),
    ('[uart]\nkind = "cmsdk"\nbase = 1\nparity = 1\n', "uart.parity"),
])
def test_a_malformed_uart_table_names_the_key(extra, key):
    text = ('name = "x"\ncore = "cortex-m4"\nclock_hz = 1\nsimulator = "mps2-an386"\n'
            '[memory.flash]\norigin = 0\nsize = "64KiB"\n[memory.ram]\norigin = 0x20000000\nsize = "16KiB"\n')
    with pytest.raises(UserError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_board(text + extra, "x.toml")


def test_port_checks():
    from edgeformer.runtime.flash import check_port
    disco = load_board("stm32f746g-disco")
    with pytest.raises(UserError, match="does not exist"):
        check_port(disco, "pyocd", "/dev/ttyNONE")
    with pytest.raises(UserError, match="semihosting"):
        check_port(disco, "openocd", "/dev/null")
    with pytest.raises(UserError, match="no \\[uart\\]"):
        check_port(parse_board('name = "x"\ncore = "cortex-m4"\nclock_hz = 1\nsimulator = "mps2-an386"\n'
                               '[memory.flash]\norigin = 0\nsize = "64KiB"\n[memory.ram]\norigin = 0x20000000\nsize = "1KiB"\n'),
                   "pyocd", "/dev/null")
    check_port(disco, "stlink", "/dev/null")   # an existing path passes
