"""CLI commands about models: zoo, train, eval."""
from __future__ import annotations

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from edgeformer.cli import err, print_json, print_table
from edgeformer.errors import UserError


def resolve_spec(model: str | None, spec_file: str | None):
    from edgeformer.specs import load_spec
    from edgeformer.zoo import preset

    if bool(model) == bool(spec_file):
        raise UserError("give exactly one of --model PRESET or --spec FILE (see `edgeformer zoo`)")
    return preset(model) if model else load_spec(spec_file)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def zoo(as_json: bool) -> None:
    """List model presets with parameters and MACs."""
    from edgeformer.models import build, count_params, macs
    from edgeformer.zoo import PRESETS

    rows = []
    for name, spec in PRESETS.items():
        rows.append({"name": name, "family": spec.family, "spiking": bool(getattr(spec, "spiking", False) or getattr(spec, "spiking_mlp", False)),
                     "input": list(spec.input_shape), "params": count_params(build(spec)), "macs": macs(spec),
                     "spec": spec.to_dict()})
    if as_json:
        print_json({"presets": rows})
        return
    print_table("edgeformer model zoo", ["name", "family", "input", "params", "macs"],
                [[r["name"], r["family"] + (" (spiking)" if r["spiking"] else ""),
                  "x".join(map(str, r["input"])), r["params"], r["macs"]] for r in rows])


def _progress_bar(enabled: bool):
    if not enabled:
        return None, None
    bar = Progress(TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False)
    task = {}

    def update(epoch, epochs, step, steps, loss):
        if "id" not in task:  # the bar appears with the first step: an early error prints alone
            bar.start()
            task["id"] = bar.add_task("train", total=epochs * steps, epoch="1/%d" % epochs, loss=loss)
        bar.update(task["id"], completed=epoch * steps + step, epoch=f"{epoch + 1}/{epochs}", loss=loss)

    return bar, update


@click.command()
@click.option("--model", "model_name", help="preset name (see `edgeformer zoo`)")
@click.option("--spec", "spec_file", type=click.Path(), help="spec JSON file (e.g. a search's best.json)")
@click.option("--dataset", required=True, help="digits, fashion-mnist, fsdd, fashion-mnist-rows or npz:PATH")
@click.option("--epochs", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 65536), default=64, show_default=True)
@click.option("--lr", default="2e-3", show_default=True, help="peak learning rate, a finite number in (0, 10]")
@click.option("--out", "run_dir", required=True, type=click.Path(), help="run directory to create")
@click.option("--force", is_flag=True, help="overwrite a non-empty run directory")
@click.option("--json", "as_json", is_flag=True)
def train(model_name, spec_file, dataset, epochs, seed, batch_size, lr, run_dir, force, as_json) -> None:
    """Train a preset or spec on a dataset; writes RUN/spec.json, model.pt, metrics.json."""
    from edgeformer.checkpoint import prepare_run_dir, save_run
    from edgeformer.data import load_dataset
    from edgeformer.train import TrainConfig, adapt_preset, check_compatible, check_lr, train_model

    cfg = TrainConfig(epochs=epochs, seed=seed, batch_size=batch_size, lr=check_lr(lr))
    run = prepare_run_dir(run_dir, force)
    spec = resolve_spec(model_name, spec_file)
    ds = load_dataset(dataset, model=spec)
    adapted = {}
    if model_name:
        spec, adapted = adapt_preset(model_name, spec, ds)
        if adapted:
            err.print(f"adapted preset {model_name} to {ds.name}: "
                      + ", ".join(f"{k} {old} -> {new}" for k, (old, new) in adapted.items()), highlight=False)
    else:
        check_compatible(spec, ds, f"spec {spec_file}")
    bar, update = _progress_bar(enabled=True)
    try:
        model, metrics = train_model(spec, ds, cfg, progress=update, check_finite=True)
    finally:
        if bar is not None and bar.live.is_started:
            bar.stop()
    if adapted:
        metrics["adapted"] = {k: {"preset": old, "used": new} for k, (old, new) in adapted.items()}
    metrics["model"] = model_name or spec_file
    save_run(run, spec, model, metrics, ds.name)
    if as_json:
        print_json({**metrics, "run": str(run)})
        return
    print_table(f"trained {metrics['model']} on {ds.name} -> {run}", ["test_accuracy", "params", "macs", "train_seconds"],
                [[f"{metrics['test_accuracy']:.4f}", metrics["params"], metrics["macs"], f"{metrics['train_seconds']:.1f}"]])


@click.command(name="eval")
@click.argument("run_dir", type=click.Path())
@click.option("--dataset", help="dataset (default: the one the run was trained on)")
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(run_dir, dataset, as_json) -> None:
    """Test-split accuracy of a trained run."""
    from edgeformer.checkpoint import load_run
    from edgeformer.data import load_dataset
    from edgeformer.train import check_compatible, evaluate

    spec, model, metrics = load_run(run_dir)
    name = dataset or metrics.get("dataset")
    if not name:
        raise UserError(f"{run_dir} does not record its dataset; pass --dataset")
    ds = load_dataset(name, model=spec)
    check_compatible(spec, ds, f"run {run_dir}", fix="evaluate it on a dataset like the one it was trained on "
                     f"({metrics.get('dataset') or 'see its metrics.json'})")
    acc = evaluate(model, ds.x_test, ds.y_test)
    result = {"run": str(run_dir), "dataset": ds.name, "test_accuracy": acc, "inputs": int(len(ds.x_test))}
    if as_json:
        print_json(result)
        return
    print_table(f"eval {run_dir}", ["dataset", "inputs", "test_accuracy"], [[ds.name, result["inputs"], f"{acc:.4f}"]])


COMMANDS = (zoo, train, eval_cmd)
