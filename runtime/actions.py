"""What verify, build, run and profile do, as functions: the CLI commands and the Python API
(`edgeformer.export(...)`'s artifact) call these, so both take the same code path and return
the same dicts (the commands' `--json`)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgeformer.errors import DoesNotFit

HOST_ARENA_LIMIT = 1 << 30   # verify's host build allocates the arena statically


def verify_artifact(art, n: int = 200, sanitize: bool = False, target: str = "host") -> dict[str, Any]:
    """Host C build of ART against onnxruntime on n real test inputs."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.host import build_host, run_host
    from edgeformer.runtime.verify import compare

    opened = open_artifact(art)
    if opened.plan["arena_bytes"] > HOST_ARENA_LIMIT:
        raise DoesNotFit(f"{opened.path}: the arena needs {opened.plan['arena_bytes']:,} B, more than the host check "
                         f"allows ({HOST_ARENA_LIMIT:,} B); no microcontroller holds it either: make the model smaller")
    with tempfile.TemporaryDirectory(prefix="edgeformer-verify-") as tmp:
        exe = build_host(opened.c_dir, Path(tmp) / "model", sanitize=sanitize, signature=opened.signature)
        result = compare(opened, lambda xs: run_host(exe, xs), n)
    result["target"] = target
    return result


def check_plan_fits(plan: dict, board) -> None:
    """Before gcc: an arena or weights past the board's RAM/flash region is exit 3 with the bytes
    (a multi-GB array otherwise stops gcc itself with "size of array is too large")."""
    if plan["arena_bytes"] > board.ram.size:
        raise DoesNotFit(f"does not fit {board.name}: the arena alone needs {plan['arena_bytes']:,} B of SRAM, "
                         f"the RAM region has {board.ram.size:,} B (over by {plan['arena_bytes'] - board.ram.size:,} B)")
    if plan["weights_bytes"] > board.flash.size:
        raise DoesNotFit(f"does not fit {board.name}: the weights alone need {plan['weights_bytes']:,} B of flash, "
                         f"the board has {board.flash.size:,} B (over by {plan['weights_bytes'] - board.flash.size:,} B)")


def build_artifact(art, board_name: str, image: str = "sim", log=lambda m: None):
    """Cross-compile ART (a folder or an opened Artifact) for a board: (board, build record)."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware

    opened = open_artifact(art)  # a clear error for a folder that is not an artifact
    board = load_board(board_name)
    check_plan_fits(opened.plan, board)
    return board, build_firmware(opened, board, image, log=log)


def run_artifact(art, board_name: str, n: int = 20, timeout: float = 300.0,
                 log=lambda m: None) -> dict[str, Any]:
    """ART on the board's QEMU stand-in (semihosting I/O) against onnxruntime."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.simrun import run_compare, semihosted

    opened = open_artifact(art)
    board, rec = build_artifact(opened, board_name, log=log)
    log(f"running up to {n} inputs on QEMU {board.simulator} (stands in for {board.name}; I/O over semihosting)")
    result = run_compare(opened, semihosted(Path(rec["elf"]), board.simulator, timeout), n)
    result.update({"board": board.name, "sim": "qemu", "simulator": board.simulator, "io": "semihosting"})
    return result


def run_uart_artifact(art, board_name: str, image: str = "sim", n: int = 20, timeout: float = 300.0,
                      log=lambda m: None) -> dict[str, Any]:
    """The UART read-back image (inputs in flash, outputs streamed out of a UART) against
    onnxruntime: image "sim" on the board's stand-in (its CMSDK UART), image "device" (the very
    ELF a probe would flash) on the QEMU machine that emulates the board's part."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.simrun import run_compare

    opened = open_artifact(art)
    board = load_board(board_name)
    check_plan_fits(opened.plan, board)
    if image == "device":
        from edgeformer.runtime.part_qemu import part_machine, run_device_uart
        machine = part_machine(board).name   # before anything is built
        run_elf = lambda elf: run_device_uart(elf, board, timeout)  # noqa: E731
    else:
        from edgeformer.runtime.uart import run_qemu_uart
        machine = board.simulator
        run_elf = lambda elf: run_qemu_uart(elf, board.simulator, timeout)  # noqa: E731

    def execute(data: bytes) -> bytes:
        rec = build_firmware(opened, board, image, log=log, io="uart", samples=data)
        return run_elf(Path(rec["elf"])).out

    log(f"running {n} inputs on QEMU {machine} ({'emulates' if image == 'device' else 'stands in for'} "
        f"{board.name}; I/O over its UART)")
    result = run_compare(opened, execute, n)
    result.update({"board": board.name, "sim": "qemu", "simulator": machine, "io": "uart", "image": image})
    return result


def profile_artifact(art, board_name: str, timeout: float = 300.0, log=lambda m: None) -> dict[str, Any]:
    """Per-layer instructions in QEMU; writes ART/profile.json and ART/profile.png."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.profile import profile_qemu, write_profile

    opened = open_artifact(art)
    board, rec = build_artifact(opened, board_name, log=log)
    log(f"profiling on QEMU {board.simulator} (-icount: exact instruction counts)")
    prof = profile_qemu(opened, board, rec, timeout)
    write_profile(opened.path, prof)
    return prof
