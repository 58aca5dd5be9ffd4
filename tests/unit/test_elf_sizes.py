"""cross.elf_sizes and ram_figure on a real ELF: a small C file linked with the boards' linker
script for the M4 stand-in; the expected sizes come from binutils (readelf -S, nm -S), a second
reader of the same file, and from the objects' declared sizes."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from edgeformer.errors import EdgeformerError
from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import STACK_BYTES, elf_sizes, linker_script, ram_figure

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")

FIRMWARE_C = r"""
#include <stdint.h>
uint8_t ef_arena[1000] __attribute__((aligned(16)));        /* the model's arena (.bss) */
static uint8_t fw_in0[64] __attribute__((used));            /* I/O the caller holds */
static uint8_t fw_out0[40] __attribute__((used));
uint64_t ef_prof_ops[3];                                    /* the harness's profile table */
const char *ef_prof_names[3];
uint32_t counter = 7;                                       /* .data: RAM, and its image in flash */
const uint8_t weights[300] = {1, 2, 3};                     /* flash only */
void Reset_Handler(void)
{
    ef_arena[0] = weights[counter];
    ef_prof_ops[0] = (uint64_t)(uintptr_t)ef_prof_names[0];
    for (;;) {}
}
"""


def _link(tmp_path, source: str):
    board = load_board("mps2-an386")
    (tmp_path / "fw.c").write_text(source)
    (tmp_path / "link.ld").write_text(linker_script(board, "sim"))
    elf = tmp_path / "fw.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O1", "-nostdlib", "-T", str(tmp_path / "link.ld"),
                    str(tmp_path / "fw.c"), "-o", str(elf)], check=True, capture_output=True)
    return board, elf


def _sections(elf) -> list[tuple[str, int, int, str, str]]:
    """(name, addr, size, type, flags) of every section, as readelf prints them."""
    out = subprocess.run(["arm-none-eabi-readelf", "-S", "-W", str(elf)], check=True, capture_output=True,
                         text=True).stdout
    rows = re.findall(r"\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)", out)
    return [(n, int(a, 16), int(s, 16), t, f) for n, t, a, s, f in rows]


def test_sizes_agree_with_binutils_and_the_declared_objects(tmp_path):
    board, elf = _link(tmp_path, FIRMWARE_C)
    ram0 = board.stand_in.ram_origin
    got = elf_sizes(elf, ram0, board.ram.size)
    alloc = [s for s in _sections(elf) if "A" in s[4] and s[2]]
    in_ram = [s for s in alloc if ram0 <= s[1] < ram0 + board.ram.size]
    assert got["ram_bytes"] == got["ram_sections_bytes"] == sum(s[2] for s in in_ram)
    assert got["flash_bytes"] == sum(s[2] for s in alloc if s[3] != "NOBITS")
    assert got["flash_bytes"] >= 300 + 4                 # the weights and counter's .data image
    stack = next(s[2] for s in in_ram if s[0] == ".stack")     # the reserve and its 8-byte alignment
    assert got["stack_reserve_bytes"] == stack and STACK_BYTES <= stack < STACK_BYTES + 8
    assert (got["arena_bytes"], got["caller_io_bytes"], got["harness_bytes"]) == (1000, 64 + 40, 3 * 8 + 3 * 4)


def test_ram_figure_counts_the_measured_stack_not_the_reserve(tmp_path):
    board, elf = _link(tmp_path, FIRMWARE_C)
    sizes = elf_sizes(elf, board.stand_in.ram_origin, board.ram.size)
    fig = ram_figure(sizes, {"bytes": 512, "measured": True, "source": "painted"})
    parts = fig["ram_parts"]
    assert (parts["arena"], parts["caller_io"], parts["stack"]) == (1000, 104, 512)
    # static state: `counter` (4 B) and the alignment padding around the 16-aligned arena
    assert 4 <= parts["static"] < 4 + 3 * 16
    assert fig["ram_bytes"] == sizes["ram_sections_bytes"] - sizes["stack_reserve_bytes"] + 512 - sizes["harness_bytes"]
    assert (fig["stack_bytes"], fig["stack_measured"]) == (512, True)


def test_an_elf_without_the_arena_symbol_is_refused(tmp_path):
    board, elf = _link(tmp_path, FIRMWARE_C.replace("ef_arena", "other_arena"))
    with pytest.raises(EdgeformerError, match="no ef_arena symbol"):
        elf_sizes(elf, board.stand_in.ram_origin, board.ram.size)
