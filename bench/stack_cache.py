"""What build saves by reusing the stack high-water mark of an identical ELF (runtime/cross.py:
build.json keeps the figure with the ELF's sha256), against measuring it again in QEMU on every
build as before. One run, side by side, per artifact:

    .venv/bin/python bench/stack_cache.py [--board stm32f746g-disco] [--presets vit-tiny-ref,lmuformer-tiny]
    .venv/bin/python bench/stack_cache.py --art ART [--art ART2 ...]

For each artifact: a build with no earlier build.json (QEMU runs: the old cost of every
build), then the same build again (same ELF: the figure is reused), and the stack run alone
(what a rebuild no longer pays). The figure must be identical; the script exits 1 if not.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def measure(art: Path, board_name: str) -> dict:
    import numpy as np

    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_dir, build_firmware
    from edgeformer.runtime.qemu import pack_inputs, run_qemu

    opened, board = open_artifact(art), load_board(board_name)
    (build_dir(art, board, "sim", "semihosting") / "build.json").unlink(missing_ok=True)
    cold, t_cold = _timed(lambda: build_firmware(opened, board))
    warm, t_warm = _timed(lambda: build_firmware(opened, board))
    arrs = [np.zeros((1, 1, *i["shape"]), i["dtype"]) for i in opened.inputs][:1 if opened.streaming else None]
    _, t_qemu = _timed(lambda: run_qemu(Path(warm["elf"]), board.simulator, pack_inputs(arrs, 1), timeout=300))
    return {"art": art.name, "stack_cold": cold["stack_bytes"], "stack_warm": warm["stack_bytes"],
            "same_elf": cold["elf_sha256"] == warm["elf_sha256"], "build_cold_s": t_cold, "build_warm_s": t_warm,
            "qemu_stack_run_s": t_qemu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="stm32f746g-disco")
    ap.add_argument("--presets", default="vit-tiny-ref,lmuformer-tiny")
    ap.add_argument("--art", action="append", type=Path, help="an existing artifact (no export)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeformer-bench-stack-") as tmp:
        # a user's artifact is measured on a copy: the bench deletes and rewrites build records
        arts = []
        for a in args.art or []:
            arts.append(Path(tmp) / f"copy-{len(arts)}-{a.name}")
            shutil.copytree(a, arts[-1], ignore=shutil.ignore_patterns("build"))
        if not arts:
            from edgeformer.export.pipeline import export_artifact, resolve_source
            for preset in args.presets.split(","):
                export_artifact(Path(tmp) / preset, resolve_source(None, preset, None), log=lambda m: None)
                arts.append(Path(tmp) / preset)
        rows = [measure(a, args.board) for a in arts]
    print(f"{'artifact':<18}{'stack B (measured | reused)':>28}{'build s (measured)':>20}{'build s (reused)':>18}"
          f"{'QEMU stack run s':>18}")
    for r in rows:
        print(f"{r['art']:<18}{r['stack_cold']:>15} | {r['stack_warm']:<10}{r['build_cold_s']:>20.2f}"
              f"{r['build_warm_s']:>18.2f}{r['qemu_stack_run_s']:>18.2f}")
    bad = [r["art"] for r in rows if r["stack_cold"] != r["stack_warm"] or not r["same_elf"]]
    if bad:
        print(f"stack figure or ELF differs for {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
