"""CLI command: search (memory-budgeted architecture search)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgeformer.cli import err, print_json, print_table
from edgeformer.errors import EdgeformerError, UserError

DEFAULT_BOARD = "stm32f746g-disco"


def _budget(board_name, sram, flash):
    from edgeformer.nas.memory import Budget
    from edgeformer.runtime.boards import FLASH_RANGE, RAM_RANGE, load_board, parse_bytes

    if board_name is None and (sram is None or flash is None):
        raise UserError("give --board B, or both --sram BYTES and --flash BYTES (e.g. --sram 64KiB --flash 1MiB)")
    board = load_board(board_name or DEFAULT_BOARD)  # the core/clock for --sram/--flash alone: the default board's
    # The build links the model into the board's `ram` region: that is the SRAM a candidate may use.
    return Budget(sram_bytes=parse_bytes(sram, "--sram", *RAM_RANGE) if sram is not None else board.ram.size,
                  flash_bytes=parse_bytes(flash, "--flash", *FLASH_RANGE) if flash is not None else board.flash.size,
                  core=board.core, clock_hz=board.clock_hz, board=board.name if board_name else None)


@click.command()
@click.option("--family", required=True, type=click.Choice(["vit", "spiking-vit", "lmuformer", "spiking-lmuformer"]))
@click.option("--dataset", required=True, help="digits, fashion-mnist, fsdd, fashion-mnist-rows or npz:PATH")
@click.option("--board", "board_name", help="board name or .toml path: its SRAM (ram region) and flash are the budget")
@click.option("--sram", help="SRAM budget, e.g. 64KiB (overrides the board's)")
@click.option("--flash", help="flash budget, e.g. 1MiB (overrides the board's)")
@click.option("--trials", type=click.IntRange(1, 100000), default=20, show_default=True,
              help="trained (within-budget) candidates; over-budget ones are extra and are not trained")
@click.option("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db), e.g. postgresql://...")
@click.option("--study", "study_name", help="study name (default FAMILY-DATASET); workers on one storage share it")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="local worker threads")
@click.option("--epochs", type=click.IntRange(1, 1000), default=2, show_default=True,
              help="standalone training epochs per candidate (--no-supernet trials, and the Kendall tau check)")
@click.option("--max-train", type=click.IntRange(1), help="train on at most this many samples")
@click.option("--supernet/--no-supernet", default=True, show_default=True,
              help="score candidates with weights inherited from one supernet trained over the space "
                   "(cached in OUT/supernet.pt), or train each candidate")
@click.option("--supernet-epochs", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--final-epochs", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="fine-tune the winner from its supernet weights; its test accuracy goes into best.json")
@click.option("--tau-candidates", type=click.IntRange(0, 100), default=5, show_default=True,
              help="candidates trained standalone to rank-check the supernet (Kendall tau); 0 skips")
@click.option("--tau-seeds", type=click.IntRange(1, 20), default=1, show_default=True,
              help="standalone seeds per tau candidate: their mean accuracy is the ranking's ground truth, and "
                   "with 2 or more supernet.json gives retest_tau, the seeds' agreement with each other")
@click.option("--rerank", "rerank_top", type=click.IntRange(0, 100), default=0, show_default=True,
              help="fine-tune the supernet's top K candidates (--rerank-epochs) and keep the best on the "
                   "validation split; 0 keeps the supernet's pick")
@click.option("--rerank-epochs", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--pool", "pool_size", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="specs sampled (through the memory model) to find the within-budget pool the supernet "
                   "trains on; 0 trains it over the whole space")
@click.option("--start", "starts", multiple=True,
              help="warm start: a model the study tries first, a zoo preset name or a spec JSON file (a run's "
                   "spec.json, a search's best.json); its architecture on --dataset's input (repeatable)")
@click.option("--device", default="auto", show_default=True, help="torch device for training: auto, cpu, cuda")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(), help="folder for best.json, pareto.png, study.db")
@click.option("--json", "as_json", is_flag=True)
def search(family, dataset, board_name, sram, flash, trials, storage, study_name, jobs, epochs, max_train, supernet,
           supernet_epochs, final_epochs, tau_candidates, tau_seeds, rerank_top, rerank_epochs, pool_size, starts,
           device, seed, out, as_json) -> None:
    """Find the most accurate model of a family that fits an SRAM/flash budget (Optuna)."""
    from edgeformer.data import load_dataset
    from edgeformer.nas.space import space
    from edgeformer.nas.standalone import pick_device
    from edgeformer.nas.study import SearchConfig, run_search

    if storage and not storage.startswith(("sqlite:", "postgresql", "mysql")):
        raise UserError(f"--storage {storage!r}: give an Optuna storage URL (sqlite:///FILE or postgresql://...)")
    pick_device(device)  # an unusable --device fails now, not after the study
    budget = _budget(board_name, sram, flash)
    sp = space(family)
    ds = load_dataset(dataset, model=family)
    start_specs = tuple(_start_spec(s) for s in starts)
    out = _check_out(out)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err)
    task = bar.add_task("search", total=trials, info="best -")
    training: dict[str, int] = {}

    def shown():
        # The bar appears with the first progress, so an early error (exit 2/3) prints alone.
        if not bar.live.is_started:
            bar.start()

    def progress(done, total, best):
        shown()
        bar.update(task, completed=done, info="best -" if best is None else f"best {best:.4f}")

    def train_progress(what, epoch, epochs_, step, steps, loss):
        shown()
        if what not in training:
            training[what] = bar.add_task(what, total=epochs_ * steps, info="")
        bar.update(training[what], total=epochs_ * steps, completed=epoch * steps + step,
                   info=f"epoch {epoch + 1}/{epochs_} loss {loss:.3f}")

    cfg = SearchConfig(sp, ds, budget, out, trials=trials, storage=storage, study_name=study_name, jobs=jobs,
                       epochs=epochs, seed=seed, max_train=max_train, progress=progress,
                       log=lambda m: err.print(f"[dim]{m}[/]"), supernet=supernet, supernet_epochs=supernet_epochs,
                       pool_size=pool_size, rerank_top=rerank_top, rerank_epochs=rerank_epochs,
                       final_epochs=final_epochs, tau_candidates=tau_candidates, tau_seeds=tau_seeds,
                       start_specs=start_specs, device=device,
                       train_progress=train_progress)
    err.print(f"[dim]budget: SRAM {budget.sram_bytes} B, flash {budget.flash_bytes} B ({budget.core})[/]")
    try:
        result = run_search(cfg)
    finally:
        bar.stop()
    result["out"] = str(out)
    b = result["best"]
    if as_json:
        print_json(result)
    if b is None:
        t = result["trials"]
        raise EdgeformerError(f"no candidate within budget finished ({', '.join(f'{v} {k}' for k, v in t.items())}); "
                              "run the search again to continue it")
    if as_json:
        return
    sup = b.get("supernet_accuracy")
    print_table(f"best {family} on {ds.name} within SRAM {budget.sram_bytes} B / flash {budget.flash_bytes} B -> "
                f"{out / 'best.json'}", ["trial", "accuracy", "supernet_accuracy", "sram_bytes", "flash_bytes",
                                          "arena_bytes", "est_latency_ms"],
                [[b["trial"], f"{b['accuracy']:.4f}", "-" if sup is None else f"{sup:.4f}", b["sram_bytes"],
                  b["flash_bytes"], b["arena_bytes"], f"{b['est_latency_ms']:.3f}"]])
    if result.get("kendall"):
        _print_kendall(result["kendall"], out)
    t = result["trials"]
    mm = result["memory_model"]
    err.print(f"trials: {', '.join(f'{v} {k}' for k, v in t.items())}; memory model: {mm['lowered']} lowered, "
              f"{mm['cache_hits']} cached; {result['wall_seconds']} s")


def _check_out(out: str) -> Path:
    """--out: a folder for the study (a search resumes from it, so an existing one is fine);
    never empty, `/`, a file or under a file, and writable."""
    from edgeformer.checkpoint import check_creatable

    if str(out).strip() == "":
        raise UserError("--out is empty (an unset shell variable?); give a folder for the search, e.g. --out search1")
    path = Path(out).expanduser()
    if path.resolve() == Path(path.resolve().anchor):
        raise UserError(f"--out {out} is the filesystem root; give a folder for the search, e.g. --out search1")
    if path.exists() and not path.is_dir():
        raise UserError(f"{path} is a file; pass a folder for --out")
    check_creatable(path)
    return path


def _start_spec(value: str):
    """--start: a zoo preset name, else a spec JSON file."""
    from edgeformer.specs import load_spec
    from edgeformer.zoo import PRESETS, preset

    return preset(value) if value in PRESETS else load_spec(value)


def _print_kendall(k, out) -> None:
    rows = [[c["trial"], f"{c['supernet_accuracy']:.4f}", f"{c['standalone_accuracy']:.4f}", c["sram_bytes"], c["macs"]]
            for c in k["candidates"]]
    tau = "n/a" if k["kendall_tau"] is None else f"{k['kendall_tau']:.3f} (p {k['p_value']})"
    seeds = k.get("standalone_seeds", 1)
    if seeds > 1:
        tau += f", mean of {seeds} seeds, seeds agree with each other at tau {k['retest_tau']}"
    print_table(f"supernet ranking vs standalone training ({k['standalone_epochs']} epochs): Kendall tau {tau}; "
                f"{k['evaluations']} supernet evaluations at {k['evaluations_per_second']}/s -> {out / 'supernet.json'}",
                ["trial", "supernet_accuracy", "standalone_accuracy", "sram_bytes", "macs"], rows)


COMMANDS = (search,)
