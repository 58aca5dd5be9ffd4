"""Spiking vs non-spiking twin on the M7 stand-in, from one run: instructions per inference,
instructions per MAC, the spike rate of every event-driven layer, and accuracy (the trained
run's float test accuracy and the int8 model's on the same test inputs the rates use).

Spike rates and int8 accuracy: export/spike_rates.py (onnxruntime on the int8 model over real
test inputs: the share of each event-driven layer's inputs that fired). Instructions: QEMU -icount on mps2-an500
(the stand-in of stm32f746g-disco) over the first test input; streaming models are counted
per step (profile.py) and per sequence (x steps). The spiking passes (lif_fuse, spike_fc) run
for both models of a pair; while they are not in the export PIPELINE this script adds them
after LOWERING and says so. Usage:
.venv/bin/python bench/spiking.py [--pairs spiking-lmuformer-fsdd:lmuformer-fsdd]
    [--inputs 50] [--train-epochs N --seed S | --runs DIR] [--out DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BOARD = "stm32f746g-disco"
PAIRS = ("spiking-lmuformer-fsdd:lmuformer-fsdd",)
CLI = Path(sys.executable).parent / "edgeformer"


def spiking_passes() -> str:
    """Make sure the export runs lif_fuse and spike_fc; say where they came from."""
    import edgeformer.export.passes as passes
    from edgeformer.export.passes.lif_fuse import lif_fuse
    from edgeformer.export.passes.spike_fc import spike_fc
    if spike_fc in passes.PIPELINE and lif_fuse in passes.PIPELINE:
        return "spiking passes in the export pipeline"
    # Last, after row_loops: a node a row loop took stays dense (its per-token fusion is worth
    # more arena than its events are worth instructions), so the plan does not grow.
    passes.MEMORY = tuple(p for p in passes.MEMORY if p not in (lif_fuse, spike_fc)) + (lif_fuse, spike_fc)
    return "spiking passes (lif_fuse, spike_fc) appended to MEMORY by this bench: not yet in PIPELINE"


def measure(name: str, work: Path, n_inputs: int, run_dir: Path | None) -> dict:
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.export.spike_rates import spike_rates
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.profile import profile_qemu
    art = work / name
    src = resolve_source(str(run_dir), None, None) if run_dir else resolve_source(None, name, None)
    export_artifact(art, src, quantize="int8", log=lambda m: None)
    board = load_board(BOARD)
    prof = profile_qemu(art, board, build_firmware(art, board))
    layers, acc8, provenance = spike_rates(art, n_inputs)
    res = {k: prof.get(k) for k in ("instructions_total", "macs", "instructions_per_mac", "steps",
                                    "sequence_instructions", "streaming")}
    res["instructions_per_inference"] = prof.get("sequence_instructions") or prof["instructions_total"]
    res["layers"] = {x["name"]: x["instructions"] for x in prof["layers"]}
    res["spike_layers"], res["rates_from"], res["int8_accuracy"] = layers, provenance, acc8
    if run_dir:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        res["accuracy"] = metrics.get("test_accuracy", metrics.get("accuracy"))
    return res


def train(name: str, work: Path, epochs: int, seed: int) -> Path:
    run = work / f"run-{name}"
    ds = "fsdd"
    subprocess.run([str(CLI), "train", "--model", name, "--dataset", ds, "--epochs", str(epochs),
                    "--seed", str(seed), "--out", str(run), "--force", "--json"], check=True,
                   stdout=subprocess.DEVNULL)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=",".join(PAIRS), help="spiking:twin presets, comma-separated")
    ap.add_argument("--inputs", type=int, default=50, help="test inputs for the spike rates")
    ap.add_argument("--train-epochs", type=int, default=0, help="train both first (same recipe)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", help="use trained runs here (RUNS/run-PRESET) instead of training")
    ap.add_argument("--out", help="keep the artifacts here (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    pairs = [p.split(":") for p in args.pairs.split(",") if p]
    where = spiking_passes()
    with tempfile.TemporaryDirectory(prefix="edgeformer-spiking-") as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for spk, twin in pairs:
            for name in (spk, twin):
                run = None
                if args.runs:
                    run = Path(args.runs) / f"run-{name}"
                elif args.train_epochs:
                    run = train(name, work, args.train_epochs, args.seed)
                results[name] = measure(name, work, args.inputs, run)
    if args.json:
        print(json.dumps({"passes": where, "inputs": args.inputs, "models": results}, indent=2))
        return
    recipe = (f"trained {args.train_epochs} epochs, seed {args.seed}" if args.train_epochs
              else f"runs in {args.runs}" if args.runs else "untrained presets")
    print(f"spiking vs twin on {BOARD} (QEMU mps2-an500 -icount); {recipe}; {where}")
    print(f"accuracy: the run's float test accuracy; int8: onnxruntime on the first {args.inputs} test inputs")
    print("model | instr/step | instr/inference | MACs/step | instr/MAC | vs twin | accuracy | int8")
    for spk, twin in pairs:
        for name in (spk, twin):
            r = results[name]
            ratio = r["instructions_total"] / results[twin]["instructions_total"]
            acc = f"{r['accuracy']:.4f}" if r.get("accuracy") is not None else "-"
            acc8 = f"{r['int8_accuracy']:.4f}" if r.get("int8_accuracy") is not None else "-"
            print(f"{name} | {r['instructions_total']:,} | {r['instructions_per_inference']:,} | "
                  f"{r['macs']:,} | {r['instructions_per_mac']:.2f} | {ratio:.2f}x | {acc} | {acc8}")
        print(f"spike rates of {spk} (onnxruntime, {results[spk]['rates_from']}):")
        print("  layer | k x n | spike rate | instructions/step")
        for x in results[spk]["spike_layers"]:
            ins = results[spk]["layers"].get(x["layer"], "?")
            print(f"  {x['layer']} | {x['k']} x {x['n']} | {x['rate']:.3f} | {ins}")


if __name__ == "__main__":
    main()
