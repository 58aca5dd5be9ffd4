"""Spiking vs non-spiking twins on the M7 stand-in, from one run: instructions per inference
(and per step for streaming models), the ratio to the twin, float and int8 accuracy, the
spike rate of every spike-fed layer, and where the instructions go (layer by layer).

Pairs: spiking-lmuformer-fsdd vs lmuformer-fsdd, and spiking-vit-digits (vit-digits with the
ViT spec's spiking_mlp=True: a stateless LIF in every MLP) vs vit-digits. Both models of a
pair are trained with one recipe (`edgeformer train`, same epochs and seed) on the real
dataset, then exported int8 through the export's own PIPELINE (the spiking passes lif_fuse
and spike_fc are in it). Instructions: QEMU -icount on mps2-an500 (the stand-in of
stm32f746g-disco) over the first test input; streaming models per step (profile.py) and per
sequence (x steps). Accuracy: the run's float test accuracy (whole test split); int8: the
int8 model in onnxruntime on the first --inputs test inputs, the same ones the spike rates
(export/spike_rates.py: the share of each spike-fed layer's inputs that fired) come from.
bench/latency.py prints the same table beside its own. Usage:
.venv/bin/python bench/spiking.py [--pairs spiking-lmuformer-fsdd:lmuformer-fsdd,...]
    [--inputs 200] [--epochs N (0: untrained) | --runs DIR] [--seed S] [--out DIR] [--json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BOARD = "stm32f746g-disco"
PAIRS = ("spiking-lmuformer-fsdd:lmuformer-fsdd", "spiking-vit-digits:vit-digits")
# Spiking twins that are no zoo preset: the preset's spec with its spikes switched on.
DERIVED = {"spiking-vit-digits": ("vit-digits", {"spiking_mlp": True})}
# Default training per dataset: short enough for the whole table in ~10 min on 2 cores.
EPOCHS = {"fsdd": 15, "digits": 30}
CLI = Path(sys.executable).parent / "edgeformer"


def spec_of(name: str):
    from edgeformer.zoo import preset
    if name in DERIVED:
        base, changes = DERIVED[name]
        return dataclasses.replace(preset(base), **changes)
    return preset(name)


def dataset_of(name: str) -> str:
    from edgeformer.zoo import DEFAULT_DATASETS
    return DEFAULT_DATASETS[DERIVED.get(name, (name,))[0]]


def train(name: str, work: Path, epochs: int, seed: int) -> Path:
    """`edgeformer train` of the model's spec on its dataset; the run directory."""
    run = work / f"run-{name}"
    spec = work / f"{name}.spec.json"
    spec.write_text(json.dumps(spec_of(name).to_dict()))
    subprocess.run([str(CLI), "train", "--spec", str(spec), "--dataset", dataset_of(name), "--epochs", str(epochs),
                    "--seed", str(seed), "--out", str(run), "--force", "--json"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run


def measure(name: str, work: Path, n_inputs: int, run_dir: Path | None) -> dict:
    """Export int8, profile on BOARD's stand-in, spike rates and int8 accuracy (onnxruntime)."""
    from edgeformer.export.pipeline import Source, export_artifact, resolve_source
    from edgeformer.export.spike_rates import spike_rates
    from edgeformer.models import build
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.profile import profile_qemu
    art = work / name
    if run_dir:
        src = resolve_source(str(run_dir), None, None)
    else:   # untrained, seeded, as `export --model` does a preset
        import torch
        torch.manual_seed(0)
        spec = spec_of(name)
        src = Source("preset", name, spec, build(spec).eval(), dataset_of(name))
    export_artifact(art, src, quantize="int8", log=lambda m: None, force=True)
    board = load_board(BOARD)
    prof = profile_qemu(art, board, build_firmware(art, board))
    layers, acc8, provenance = spike_rates(art, n_inputs)
    res = {k: prof.get(k) for k in ("instructions_total", "macs", "instructions_per_mac", "steps",
                                    "sequence_instructions", "streaming")}
    res["instructions_per_inference"] = prof.get("sequence_instructions") or prof["instructions_total"]
    res["layers"] = {x["name"]: x["instructions"] for x in prof["layers"]}
    res["parts"] = {f"{g['name']} / {p['name']} ({p['role']})": p["instructions"]
                    for g in prof["layer_groups"] for p in g.get("parts", [])}   # of row loops
    res["spike_layers"], res["rates_from"], res["int8_accuracy"] = layers, provenance, acc8
    res["accuracy"] = None
    if run_dir:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        res["accuracy"] = metrics.get("test_accuracy", metrics.get("accuracy"))
    return res


def compare(pairs: list[tuple[str, str]], work: Path, n_inputs: int = 200, epochs: int | None = None,
            seed: int = 0, runs: Path | None = None, log=lambda m: None) -> dict:
    """Every model of `pairs` trained (epochs None: EPOCHS of its dataset; 0: untrained) or
    read from runs/run-NAME, then measured. {"models": {name: measure()}, "epochs": {name: n}}."""
    results, trained = {}, {}
    for pair in pairs:
        for name in pair:
            if name in results:
                continue
            run = None
            if runs:
                run = runs / f"run-{name}"
            else:
                n = EPOCHS[dataset_of(name)] if epochs is None else epochs
                if n:
                    log(f"training {name} on {dataset_of(name)}, {n} epochs")
                    run = train(name, work, n, seed)
                trained[name] = n
            log(f"exporting and profiling {name}")
            results[name] = measure(name, work, n_inputs, run)
    return {"models": results, "epochs": trained, "seed": seed, "inputs": n_inputs, "board": BOARD}


def table(res: dict, pairs: list[tuple[str, str]], detail: bool = True) -> list[str]:
    """The side-by-side table, the spike rates and, with detail, where the instructions go."""
    models, ep = res["models"], res["epochs"]
    out = [f"spiking vs non-spiking twins on {res['board']} (QEMU mps2-an500 -icount, instruction counts)",
           f"accuracy: float, the run's whole test split; int8: onnxruntime on the first {res['inputs']} test "
           f"inputs; training: " + (", ".join(f"{k} {v} epochs" if v else f"{k} untrained" for k, v in ep.items())
                                    if ep else "given runs") + f", seed {res['seed']}",
           "model | instr/step | instr/inference | vs twin | MACs/inference | float acc | int8 acc | epochs"]
    fmt = lambda v: f"{v:.4f}" if v is not None else "-"  # noqa: E731
    for spk, twin in pairs:
        for name in (spk, twin):
            r = models[name]
            step = f"{r['instructions_total']:,}" if r.get("streaming") else "-"
            ratio = r["instructions_per_inference"] / models[twin]["instructions_per_inference"]
            macs = r["macs"] * (r.get("steps") or 1)
            out.append(f"{name} | {step} | {r['instructions_per_inference']:,} | {ratio:.3f}x | {macs:,} | "
                       f"{fmt(r['accuracy'])} | {fmt(r['int8_accuracy'])} | {ep.get(name, '-')}")
    for spk, twin in pairs:
        s, t = models[spk], models[twin]
        out.append(f"spike rates of {spk} (onnxruntime, {s['rates_from']}):")
        out.append("  layer | in row loop | kernel | k x n | spike rate")
        for x in s["spike_layers"]:
            kernel = "event-driven" if x["event_driven"] else "dense (fused bias Add)"
            out.append(f"  {x['layer']} | {x.get('loop') or '-'} | {kernel} | {x['k']} x {x['n']} | {x['rate']:.3f}")
        if not detail:
            continue
        per = " per step" if s.get("streaming") else ""
        out.append(f"where the instructions go{per} ({spk} | {twin} | difference):")
        for kind in ("layers", "parts"):
            for name in dict.fromkeys([*s[kind], *t[kind]]):
                a, b = s[kind].get(name), t[kind].get(name)
                diff = f"{a - b:+,}" if a is not None and b is not None else ""
                out.append(f"  {name} | {_n(a)} | {_n(b)} | {diff}")
    return out


def _n(v) -> str:
    return f"{v:,}" if v is not None else "-"


def parse_pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split(":")) for p in text.split(",") if p]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=",".join(PAIRS), help="spiking:twin, comma-separated")
    ap.add_argument("--inputs", type=int, default=200, help="test inputs for the int8 accuracy and spike rates")
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"train both of a pair this long (default per dataset: {EPOCHS}; 0: untrained)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", help="use trained runs here (RUNS/run-NAME) instead of training")
    ap.add_argument("--out", help="keep the runs and artifacts here (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    pairs = parse_pairs(args.pairs)
    with tempfile.TemporaryDirectory(prefix="edgeformer-spiking-") as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        res = compare(pairs, work, args.inputs, args.epochs, args.seed, Path(args.runs) if args.runs else None,
                      log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print("\n".join(table(res, pairs)))


if __name__ == "__main__":
    main()
