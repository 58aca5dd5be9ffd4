"""SRAM for every zoo preset, int8 and float32: our arena against TVM Relax and TFLite Micro.

For each model, measured side by side in this one run: `no_reuse_bytes`,
`unfused_liveness_bound_bytes` and our `arena_bytes` (plan.json of a fresh export); TVM
Relax's own static plan of the same (Q)ONNX (StaticPlanBlockMemory pools + the largest
kernel's workspace); and, with the peers venv (`make peers`: .venv-peers, its own torch),
TFLite Micro's minimum arena for the same ViT, found by bisecting `arena_size`
(bench/tflm_peer.py, run there as a subprocess).

What an application needs is more than an arena: each row also builds the firmware for
--board and gives our `ram_bytes` (arena + the I/O the API makes the caller hold + the stack
high-water mark measured in QEMU + static state; int8 rows export with --io-dtype int8, the
input TFLM also takes in place in its arena), beside TFLite Micro's minimum arena + the same
stack (TFLM's own interpreter stack is not measured here: ours stands in for it).
    .venv/bin/python bench/memory.py [--only vit-tiny-ref,...] [--quantize int8,float32] [--board B]
                                     [--io-dtype int8|uint8|float32] [--json out.json]
Target (issue 3): vit-tiny-ref int8 arena_bytes <= 0.25 x TFLite Micro's minimum arena and
below unfused_liveness_bound_bytes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeformer.export.pipeline import export_artifact, resolve_source
from edgeformer.zoo import PRESETS

PEERS_PY = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"
PEERS_HINT = "n/a (make peers)"


def tvm_peer(onnx_path: Path) -> dict:
    from edgeformer.export.tvm_backend import relax_static_plan
    try:
        return relax_static_plan(onnx_path)
    except Exception as e:  # a peer failing on a model is a row note, not a crash
        return {"error": str(e).splitlines()[0][:80] if str(e) else type(e).__name__}


def tflm_peer(source, quantize: str, ds) -> dict:
    """TFLite Micro's minimum arena, by bench/tflm_peer.py in the peers venv (`make peers`):
    litert-torch and ai-edge-quantizer need torch 2.14.1 and jax, kept out of .venv."""
    if not PEERS_PY.exists():
        return {"note": PEERS_HINT}
    from edgeformer.specs import ViTSpec
    if source.kind != "preset" or not isinstance(source.spec, ViTSpec):
        return {"note": "n/a (ViT presets only)"}  # ours runs LMUFormers as a streaming step
    import subprocess
    cmd = [str(PEERS_PY), str(Path(__file__).with_name("tflm_peer.py")), source.label, "--quantize", quantize]
    with tempfile.TemporaryDirectory() as tmp:
        if ds is not None:  # real calibration inputs, loaded here (digits needs scikit-learn)
            import numpy as np
            from edgeformer.data import calibration_samples
            calib = Path(tmp) / f"{ds.name}.npy"
            np.save(calib, calibration_samples(ds, 32))
            cmd += ["--calib", str(calib)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return {"note": "n/a (bench/tflm_peer.py timed out)"}
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        return {"note": f"n/a ({last[:80]})"}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"arena_bytes": r["tflm_min_arena_bytes"], "converter": r["converter"],
            "calibration": r.get("calibration"), "ops": r["ops"]}


def app_ram(art: Path, board: str) -> dict:
    """Our application RAM on `board` from the firmware build (runtime/cross.py's figure)."""
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware
    try:
        rec = build_firmware(art, load_board(board))
    except Exception as e:  # no arm-none-eabi-gcc / QEMU here: a row note, not a crash
        return {"note": f"n/a ({str(e).splitlines()[0][:60] if str(e) else type(e).__name__})"}
    return {"ram_bytes": rec["ram_bytes"], "stack_bytes": rec["stack_bytes"], "stack_measured": rec["stack_measured"],
            "ram_parts": rec["ram_parts"]}


def measure(name: str, quantize: str, tmp: Path, board: str = "stm32f746g-disco", io_dtype: str = "int8") -> dict:
    source = resolve_source(None, name, None)
    art = tmp / f"{name}-{quantize}"
    io = io_dtype if quantize == "int8" else "float32"
    meta = export_artifact(art, source, quantize=quantize, log=lambda *a, **k: None, io_dtype=io)
    plan = json.loads((art / "plan.json").read_text())
    row = {"preset": name, "quantize": quantize, "io_dtype": io, "reference": meta["reference"], "board": board,
           **{k: plan[k] for k in ("no_reuse_bytes", "unfused_liveness_bound_bytes", "arena_bytes")}}
    row["app"] = app_ram(art, board)
    row["tvm"] = tvm_peer(art / meta["reference"])
    ds = None
    if source.dataset and quantize == "int8":
        from edgeformer.data import load_dataset
        ds = load_dataset(source.dataset)
    row["tflm"] = tflm_peer(source, quantize, ds)
    tv = row["tvm"]
    row["ours_over_tvm"] = row["arena_bytes"] / tv["total_bytes"] if tv.get("total_bytes") else None
    # Our arena holds the inputs and outputs (for streaming models: the state); TVM's plan does not.
    io = tv.get("total_bytes", 0) + tv.get("input_bytes", 0) + tv.get("output_bytes", 0)
    row["ours_over_tvm_with_io"] = row["arena_bytes"] / io if io else None
    tflm = row["tflm"].get("arena_bytes")
    row["ours_over_tflm"] = row["arena_bytes"] / tflm if tflm else None
    stack = row["app"].get("stack_bytes")
    row["tflm_app_bytes"] = tflm + stack if tflm and stack is not None else None
    ram = row["app"].get("ram_bytes")
    row["ours_app_over_tflm_app"] = ram / row["tflm_app_bytes"] if ram and row["tflm_app_bytes"] else None
    return row


def table(rows: list[dict]) -> Table:
    t = Table(title="SRAM (bytes): ours vs TVM Relax static plan vs TFLite Micro, same run",
              title_justify="left")
    for c in ("preset", "q", "no_reuse", "unfused_bound", "ours arena", "TVM plan + scratch",
              "ours/TVM", "TVM I/O", "ours/(TVM+I/O)", "TFLM min arena", "ours/TFLM",
              "ours app RAM (stack)", "TFLM arena + same stack", "ours/TFLM app"):
        t.add_column(c, justify="left" if c in ("preset", "q") else "right")
    for r in rows:
        tv, tf = r["tvm"], r["tflm"]
        tvm_s = (f"{tv['planned_bytes']:,} + {tv['scratch_bytes']:,}" if "total_bytes" in tv
                 else escape(f"n/a ({tv['error']})"))
        t.add_row(r["preset"], r["quantize"], f"{r['no_reuse_bytes']:,}",
                  f"{r['unfused_liveness_bound_bytes']:,}", f"{r['arena_bytes']:,}", tvm_s,
                  f"{r['ours_over_tvm']:.3f}" if r["ours_over_tvm"] else "-",
                  f"{tv['input_bytes'] + tv['output_bytes']:,}" if "total_bytes" in tv else "-",
                  f"{r['ours_over_tvm_with_io']:.3f}" if r["ours_over_tvm_with_io"] else "-",
                  f"{tf['arena_bytes']:,}" if "arena_bytes" in tf else escape(tf["note"]),
                  f"{r['ours_over_tflm']:.3f}" if r["ours_over_tflm"] else "-",
                  (f"{r['app']['ram_bytes']:,} ({r['app']['stack_bytes']:,})" if "ram_bytes" in r["app"]
                   else escape(r["app"]["note"])),
                  f"{r['tflm_app_bytes']:,}" if r["tflm_app_bytes"] else "-",
                  f"{r['ours_app_over_tflm_app']:.3f}" if r["ours_app_over_tflm_app"] else "-")
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated presets (default: every zoo preset)")
    ap.add_argument("--quantize", default="int8,float32", help="int8,float32 (default both)")
    ap.add_argument("--board", default="stm32f746g-disco", help="board whose firmware gives our application RAM")
    ap.add_argument("--io-dtype", default="int8", choices=["float32", "int8", "uint8"],
                    help="the int8 rows' C API dtype (float32 rows stay float32)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        print(f"unknown preset {unknown[0]!r}; known: {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    err = Console(stderr=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ef-bench-memory-") as tmp:
        for name in names:
            for q in args.quantize.split(","):
                with err.status(f"{name} {q}: export, TVM Relax plan, TFLite Micro"):
                    rows.append(measure(name, q, Path(tmp), args.board, args.io_dtype))
    Console(width=200).print(table(rows))  # never wrap the numbers, even in a pipe
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
