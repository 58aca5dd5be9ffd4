"""Train the zoo presets on their datasets; print test accuracy, params, MACs, train seconds.

Slow (tens of minutes on 2 cores): a benchmark, not a test.
    .venv/bin/python bench/accuracy.py [--only vit-fmnist,...] [--json out.json]
Targets (issue 2): vit-fmnist >= 0.88 within 15 min of training; lmuformer-fsdd >= 0.95;
spiking-lmuformer-fsdd within 3 points of lmuformer-fsdd.
"""
from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeformer.data import load_dataset
from edgeformer.train import TrainConfig, train_model
from edgeformer.zoo import preset

# preset -> (dataset, training config); epochs sized for the 15-minute budget on 2 cores.
JOBS = {
    "vit-digits": ("digits", TrainConfig(epochs=30, seed=0)),
    "vit-fmnist": ("fashion-mnist", TrainConfig(epochs=24, seed=0, batch_size=128, lr=2e-3)),
    "lmuformer-fsdd": ("fsdd", TrainConfig(epochs=20, seed=0, batch_size=64, lr=3e-3, label_smoothing=0.05)),
    "spiking-lmuformer-fsdd": ("fsdd", TrainConfig(epochs=20, seed=0, batch_size=64, lr=3e-3, label_smoothing=0.05)),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated presets (default: all)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(JOBS)
    err = Console(stderr=True)
    rows = []
    for name in names:
        dataset, cfg = JOBS[name]
        ds = load_dataset(dataset)
        with Progress(TextColumn(f"[bold]{name}"), BarColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
                      TimeElapsedColumn(), console=err) as bar:
            task = bar.add_task(name, total=None, loss=0.0)

            def update(epoch, epochs, step, steps, loss):
                bar.update(task, total=epochs * steps, completed=epoch * steps + step, loss=loss)

            _, m = train_model(preset(name), ds, cfg, progress=update)
        rows.append({"preset": name, "dataset": dataset, "epochs": cfg.epochs, **{k: m[k] for k in
                     ("test_accuracy", "params", "macs", "train_seconds")}})
        err.print(f"{name}: test_accuracy {m['test_accuracy']:.4f} in {m['train_seconds']:.0f} s")  # partial results survive
    table = Table(title="edgeformer presets: accuracy on real data (2-core CPU)", title_justify="left")
    for c in ("preset", "dataset", "epochs", "test_accuracy", "params", "macs", "train_seconds"):
        table.add_column(c, justify="left" if c in ("preset", "dataset") else "right")
    for r in rows:
        table.add_row(r["preset"], r["dataset"], str(r["epochs"]), f"{r['test_accuracy']:.4f}",
                      f"{r['params']:,}", f"{r['macs']:,}", f"{r['train_seconds']:.0f}")
    Console(width=160).print(table)
    by = {r["preset"]: r for r in rows}
    if "lmuformer-fsdd" in by and "spiking-lmuformer-fsdd" in by:
        gap = by["lmuformer-fsdd"]["test_accuracy"] - by["spiking-lmuformer-fsdd"]["test_accuracy"]
        print(f"spiking gap: {100 * gap:.2f} points (target <= 3)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
