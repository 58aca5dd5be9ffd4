"""Instructions per MAC for every preset on the M7 and M4 stand-ins (QEMU -icount, exact counts).

Native backend vs the tvm backend side by side, from one run: each preset is exported once per
backend (int8) and profiled on mps2-an500 (Cortex-M7) and mps2-an386 (Cortex-M4). A backend
that cannot export yet shows "n/a". Usage: .venv/bin/python bench/latency.py [--presets a,b]
[--out DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeformer.errors import EdgeformerError
from edgeformer.export.pipeline import export_artifact, resolve_source
from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import build_firmware
from edgeformer.runtime.profile import profile_qemu
from edgeformer.zoo import PRESETS

STAND_INS = ("mps2-an500", "mps2-an386")   # Cortex-M7, Cortex-M4
BACKENDS = ("native", "tvm")


def measure(preset: str, backend: str, work: Path) -> dict[str, dict | str]:
    art = work / f"{preset}-{backend}"
    try:
        export_artifact(art, resolve_source(None, preset, None), quantize="int8", backend=backend, log=lambda m: None)
    except EdgeformerError as e:
        return {b: f"n/a ({str(e).splitlines()[0][:60]})" for b in STAND_INS}
    res: dict[str, dict | str] = {}
    for name in STAND_INS:
        board = load_board(name)
        try:
            prof = profile_qemu(art, board, build_firmware(art, board))
            res[name] = {k: prof[k] for k in ("instructions_total", "macs", "instructions_per_mac")}
        except EdgeformerError as e:
            res[name] = f"n/a ({str(e)[:60]})"
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--out", help="keep the artifacts here (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeformer-bench-") as tmp:
        work = Path(args.out or tmp)
        results = {p: {b: measure(p, b, work) for b in BACKENDS} for p in args.presets.split(",")}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cell = lambda r: f"{r['instructions_per_mac']:.2f}" if isinstance(r, dict) else "n/a"  # noqa: E731
    head = ["preset", "MACs"] + [f"{b} {s.split('-')[1]}" for s in STAND_INS for b in BACKENDS] + ["native/tvm M7"]
    print("instructions per MAC (int8, QEMU -icount; an500 = Cortex-M7, an386 = Cortex-M4)")
    print(" | ".join(head))
    for p, r in results.items():
        nat = r["native"][STAND_INS[0]]
        macs = nat["macs"] if isinstance(nat, dict) else "?"
        tvm = r["tvm"][STAND_INS[0]]
        ratio = (f"{tvm['instructions_total'] / nat['instructions_total']:.1f}x fewer"
                 if isinstance(nat, dict) and isinstance(tvm, dict) else "n/a")
        print(" | ".join([p, str(macs)] + [cell(r[b][s]) for s in STAND_INS for b in BACKENDS] + [ratio]))
    na = {p: r["tvm"][STAND_INS[0]] for p, r in results.items() if not isinstance(r["tvm"][STAND_INS[0]], dict)}
    if na:
        print(f"tvm: {next(iter(na.values()))}")


if __name__ == "__main__":
    main()
