"""Instructions per MAC for every preset on the M7 and M4 stand-ins (QEMU -icount, exact counts).

Native backend vs the tvm backend side by side, int8 and float32, from one run: each preset is
exported once per (dtype, backend) and profiled on mps2-an500 (Cortex-M7) and mps2-an386
(Cortex-M4). The float32 columns put our FPU kernels (export/kernels/ef_f32_fast.c) beside TVM's
generated float kernels. A backend that cannot export yet shows "n/a". Usage:
.venv/bin/python bench/latency.py [--presets a,b] [--dtypes int8,float32] [--out DIR] [--json]
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
DTYPES = ("int8", "float32")


def measure(preset: str, backend: str, work: Path, quantize: str = "int8") -> dict[str, dict | str]:
    art = work / f"{preset}-{backend}-{quantize}"
    try:
        export_artifact(art, resolve_source(None, preset, None), quantize=quantize, backend=backend,
                        log=lambda m: None)
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


def _ratio(nat, tvm) -> str:
    if isinstance(nat, dict) and isinstance(tvm, dict):
        return f"{tvm['instructions_total'] / nat['instructions_total']:.1f}x fewer"
    return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--dtypes", default=",".join(DTYPES), help="int8, float32 or both (default)")
    ap.add_argument("--out", help="keep the artifacts here (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dtypes = [d for d in args.dtypes.split(",") if d]
    with tempfile.TemporaryDirectory(prefix="edgeformer-bench-") as tmp:
        work = Path(args.out or tmp)
        # results[preset][dtype][backend][stand-in]
        results = {p: {d: {b: measure(p, b, work, d) for b in BACKENDS} for d in dtypes}
                   for p in args.presets.split(",")}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cell = lambda r: f"{r['instructions_per_mac']:.2f}" if isinstance(r, dict) else "n/a"  # noqa: E731
    cols = [(d, s, b) for s in STAND_INS for d in dtypes for b in BACKENDS]
    head = (["preset", "MACs"] + [f"{d} {b} {s.split('-')[1]}" for d, s, b in cols]
            + [f"native/tvm {d} M7" for d in dtypes])
    print("instructions per MAC (QEMU -icount; an500 = Cortex-M7, an386 = Cortex-M4; "
          "int8 and float32, native and tvm kernels)")
    print(" | ".join(head))
    na = {}
    for p, r in results.items():
        first = r[dtypes[0]]["native"][STAND_INS[0]]
        macs = first["macs"] if isinstance(first, dict) else "?"
        ratios = [_ratio(r[d]["native"][STAND_INS[0]], r[d]["tvm"][STAND_INS[0]]) for d in dtypes]
        print(" | ".join([p, str(macs)] + [cell(r[d][b][s]) for d, s, b in cols] + ratios))
        na.update({f"tvm {d}": r[d]["tvm"][STAND_INS[0]] for d in dtypes
                   if not isinstance(r[d]["tvm"][STAND_INS[0]], dict)})
    for what, why in na.items():
        print(f"{what}: {why}")


if __name__ == "__main__":
    main()
