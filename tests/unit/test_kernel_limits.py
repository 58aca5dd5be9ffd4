"""export/kernel_limits.py against the C it describes: the #defines of the kernel headers, the
fixed-k dispatch of ef_qaa.c, the local arrays each kernel keeps on the stack and the scratch
the headers document. Reads the sources only (no compiler): milliseconds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeformer.export import kernel_limits as lim

KERNELS = Path(lim.__file__).resolve().parent / "kernels"
C_TYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4}


def _defines() -> dict[str, set[int]]:
    """{macro: its values} of the numeric EF_ #defines (a feature switch has two: 0 and 1)."""
    found: dict[str, set[int]] = {}
    for h in sorted(KERNELS.glob("*.h")):
        for name, value in re.findall(r"^#define\s+(EF_\w+)\s+(\d+)\s*$", h.read_text(), re.M):
            found.setdefault(name, set()).add(int(value))
    return found


@pytest.mark.parametrize("macro, value", [("EF_MAX_DIMS", lim.MAX_DIMS), ("EF_QFC_KMAX", lim.QFC_KMAX),
                                          ("EF_SPIKE_KMAX", lim.SPIKE_KMAX)])
def test_limits_match_the_headers(macro, value):
    got = _defines().get(macro)
    assert got == {value}, f"{macro}: the headers define {got}, kernel_limits has {value}"


def _functions(src: str) -> dict[str, str]:
    """{name: body} of every function defined at the top level of a C file."""
    out = {}
    for m in re.finditer(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(\s*\(*[^;{]*?\)\s*\{", src, re.M):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        out[m.group(1)] = src[m.end():i - 1]
    return out


def _array_bytes(body: str, macros: dict[str, int]) -> int:
    """Bytes of the local arrays a function body sizes by a kernel limit (`int32_t a[EF_X / 2]`)."""
    total = 0
    for ctype, decl in re.findall(r"\b(u?int(?:8|16|32)_t|float)\s+([^;(]*\[[^;]*);", body):
        for size in re.findall(r"\w+\s*\[([^\]]*\bEF_\w+[^\]]*)\]", decl):
            expr = re.sub(r"\bEF_\w+\b", lambda m: str(macros[m.group(0)]), size)
            assert re.fullmatch(r"[\d\s+*/()-]+", expr), f"array size {size!r} is not a constant"
            total += C_TYPE_BYTES[ctype] * eval(expr.replace("/", "//"))  # noqa: S307 - digits and operators only
    return total


def _stack(name: str, fns: dict[str, str], macros: dict[str, int], seen=()) -> int:
    """A kernel's own arrays plus the largest of the functions it calls (one path at a time)."""
    body = fns.get(name, "")   # a kernel defined by a macro (EF_QUANT) has no parsed body
    callees = {c for c in re.findall(r"\b(\w+)\s*\(", body) if c in fns and c != name and c not in seen}
    return _array_bytes(body, macros) + max((_stack(c, fns, macros, (*seen, name)) for c in callees), default=0)


def test_kernel_stack_bytes_match_the_sources():
    macros = {k: v.pop() for k, v in _defines().items() if len(v) == 1}
    fns: dict[str, str] = {}
    for c in sorted(KERNELS.glob("*.c")):
        fns.update(_functions(c.read_text()))
    for kernel, want in lim.KERNEL_STACK_BYTES.items():
        assert kernel in fns, f"{kernel} is not defined in {KERNELS}"
        got = _stack(kernel, fns, macros)
        assert got == want, f"{kernel}: the sources keep {got} B of local arrays, kernel_limits says {want}"


def test_every_kernel_with_limit_sized_arrays_is_in_the_table():
    macros = {k: v.pop() for k, v in _defines().items() if len(v) == 1}
    fns, public = {}, set()
    for c in sorted(KERNELS.glob("*.c")):
        src = c.read_text()
        fns.update(_functions(src))
        public |= set(re.findall(r"^int (ef_\w+)\s*\(", src, re.M))
    missing = sorted(k for k in public if k not in lim.KERNEL_STACK_BYTES and _stack(k, fns, macros) > 0)
    assert not missing, f"kernels with limit-sized stack arrays missing from KERNEL_STACK_BYTES: {missing}"


def test_aa_fast_k_matches_the_dispatch():
    src = (KERNELS / "ef_qaa.c").read_text()
    dispatch = src[src.index("(*ef_aa_t_fn(int32_t k))"):].split("default:")[0]
    assert tuple(int(k) for k in re.findall(r"case (\d+): return ef_aa_t\1;", dispatch)) == lim.AA_FAST_K
    assert f"k >= {lim.AA_PAIR_MIN_K}" in _functions(src)["ef_aa_trans"]


def test_rowwise_scratch_matches_the_header():
    h = (KERNELS / "ef_kernels.h").read_text()
    assert "scratch: row floats" in h and lim.qsoftmax_scratch_bytes(10) == 10 * 4
    assert "scratch: size floats (2 * size when pooling)" in h
    assert lim.qlayernorm_scratch_bytes(10, 0) == 10 * 4 and lim.qlayernorm_scratch_bytes(10, 3) == 2 * 10 * 4
