"""Spiking vs non-spiking twin on the M7 stand-in, from one run: instructions per inference,
instructions per MAC, the spike rate of every event-driven layer, and accuracy (the trained
run's float test accuracy and the int8 model's on the same test inputs the rates use).

The firmware profile cannot see data, so spike rates come from onnxruntime on the int8 model
(model.int8.onnx, the numerics truth) over real test inputs: for each ef.SpikeFC input (the
layers export/passes/spike_fc.py makes event-driven), the share of inputs that are not the
silent level, over every step of every sequence. Instructions: QEMU -icount on mps2-an500
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

import numpy as np

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


def spike_layers(reference: Path) -> list[dict]:
    """The event-driven layers of an int8 model: name, input tensor, silent level, k, n."""
    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import LOWERING, MEMORY, run
    g = run(load_onnx(reference), LOWERING + MEMORY)
    return [{"layer": n.name, "input": n.inputs[0], "silent": int(n.attrs["x_lo"]),
             "k": int(n.attrs["k"]), "n": int(g.tensors[n.inputs[1]].shape[0])}
            for n in g.nodes if n.op == "ef.SpikeFC"]


def onnxruntime_pass(art: Path, n_inputs: int) -> tuple[list[dict], float | None, str]:
    """spike_layers with `rate` (share of non-silent inputs), and the int8 model's top-1
    accuracy, from onnxruntime on n_inputs real test inputs; and where the inputs came from."""
    import onnx

    from edgeformer.export.onnx_check import session
    from edgeformer.runtime.verify import load_meta, test_inputs
    meta = load_meta(art)
    ref = art / meta["reference"]
    layers = spike_layers(ref)
    model = onnx.load(str(ref))
    have = {o.name for o in model.graph.output}
    for t in dict.fromkeys(x["input"] for x in layers):
        if t not in have:
            model.graph.output.append(onnx.ValueInfoProto(name=t))
    sess = session(model.SerializeToString())
    names = [o.name for o in sess.get_outputs()]
    ins = sess.get_inputs()
    x, provenance = test_inputs(meta, art, n_inputs)
    fired = {x_["input"]: 0 for x_ in layers}
    total = dict.fromkeys(fired, 0)
    silent = {x_["input"]: x_["silent"] for x_ in layers}

    def count(out: dict) -> None:
        for t in fired:
            fired[t] += int(np.count_nonzero(out[t] != silent[t]))
            total[t] += int(out[t].size)

    preds = []
    for sample in x:
        if meta.get("streaming"):
            state = [np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
                     for i in ins[1:]]
            for x_t in sample:
                res = dict(zip(names, sess.run(names, dict(zip([i.name for i in ins],
                                                                [x_t[None].astype(np.float32), *state])))))
                count(res)
                state = [res["state_out." + i.name[len("state_in."):]] for i in ins[1:]]
        else:
            res = dict(zip(names, sess.run(names, {ins[0].name: sample[None].astype(np.float32)})))
            count(res)
        preds.append(int(np.argmax(res[names[0]])))
    for x_ in layers:
        x_["rate"] = fired[x_["input"]] / max(total[x_["input"]], 1)
    acc = None
    if meta.get("dataset"):
        from edgeformer.data import load_dataset
        y = np.asarray(load_dataset(meta["dataset"]).y_test[:len(preds)])
        acc = float(np.mean(np.asarray(preds) == y))
    return layers, acc, provenance


def measure(name: str, work: Path, n_inputs: int, run_dir: Path | None) -> dict:
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.profile import profile_qemu
    art = work / name
    src = resolve_source(str(run_dir), None, None) if run_dir else resolve_source(None, name, None)
    export_artifact(art, src, quantize="int8", log=lambda m: None)
    board = load_board(BOARD)
    prof = profile_qemu(art, board, build_firmware(art, board))
    layers, acc8, provenance = onnxruntime_pass(art, n_inputs)
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
