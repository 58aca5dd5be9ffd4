"""What verify, build, run and profile do, as functions: the CLI commands and the Python API
(`edgeformer.export(...)`'s artifact) call these, so both take the same code path and return
the same dicts (the commands' `--json`)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgeformer.errors import DoesNotFit

HOST_ARENA_LIMIT = 1 << 30   # verify's host build allocates the arena statically


def verify_artifact(art: str | Path, n: int = 200, sanitize: bool = False, target: str = "host") -> dict[str, Any]:
    """Host C build of ART against onnxruntime on n real test inputs."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.host import build_host, run_host
    from edgeformer.runtime.verify import compare

    art = Path(art)
    opened = open_artifact(art)
    if opened.plan["arena_bytes"] > HOST_ARENA_LIMIT:
        raise DoesNotFit(f"{art}: the arena needs {opened.plan['arena_bytes']:,} B, more than the host check "
                         f"allows ({HOST_ARENA_LIMIT:,} B); no microcontroller holds it either: make the model smaller")
    with tempfile.TemporaryDirectory(prefix="edgeformer-verify-") as tmp:
        exe = build_host(art / "c", Path(tmp) / "model", sanitize=sanitize)
        result = compare(opened.meta, art, lambda xs: run_host(exe, xs), n)
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


def build_artifact(art: str | Path, board_name: str, image: str = "sim", log=lambda m: None):
    """Cross-compile ART for a board: (board, build record)."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware

    plan = open_artifact(art).plan  # a clear error for a folder that is not an artifact
    board = load_board(board_name)
    check_plan_fits(plan, board)
    return board, build_firmware(Path(art), board, image, log=log)


def run_artifact(art: str | Path, board_name: str, n: int = 20, timeout: float = 300.0,
                 log=lambda m: None) -> dict[str, Any]:
    """ART on the board's QEMU stand-in (semihosting I/O) against onnxruntime."""
    from edgeformer.runtime.host import read_signature
    from edgeformer.runtime.simrun import run_compare, semihosted
    from edgeformer.runtime.verify import load_meta

    board, rec = build_artifact(art, board_name, log=log)
    log(f"running up to {n} inputs on QEMU {board.simulator} (stands in for {board.name}; I/O over semihosting)")
    result = run_compare(Path(art), load_meta(art), semihosted(Path(rec["elf"]), board.simulator, timeout),
                         read_signature(Path(art) / "c"), n)
    result.update({"board": board.name, "sim": "qemu", "simulator": board.simulator, "io": "semihosting"})
    return result


def profile_artifact(art: str | Path, board_name: str, timeout: float = 300.0, log=lambda m: None) -> dict[str, Any]:
    """Per-layer instructions in QEMU; writes ART/profile.json and ART/profile.png."""
    from edgeformer.runtime.profile import profile_qemu, write_profile

    board, rec = build_artifact(art, board_name, log=log)
    log(f"profiling on QEMU {board.simulator} (-icount: exact instruction counts)")
    prof = profile_qemu(Path(art), board, rec, timeout)
    write_profile(Path(art), prof)
    return prof
