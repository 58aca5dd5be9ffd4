"""CLI command: search (memory-budgeted architecture search)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgeformer.cli import err, print_json, print_table
from edgeformer.errors import UserError

DEFAULT_BOARD = "stm32f746g-disco"


def _budget(board_name, sram, flash):
    from edgeformer.nas.memory import Budget
    from edgeformer.runtime.boards import load_board, parse_bytes

    if board_name is None and (sram is None or flash is None):
        raise UserError("give --board B, or both --sram BYTES and --flash BYTES (e.g. --sram 64KiB --flash 1MiB)")
    board = load_board(board_name or DEFAULT_BOARD)  # the core/clock for --sram/--flash alone: the default board's
    # The build links the model into the board's `ram` region: that is the SRAM a candidate may use.
    return Budget(sram_bytes=parse_bytes(sram, "--sram") if sram is not None else board.ram.size,
                  flash_bytes=parse_bytes(flash, "--flash") if flash is not None else board.flash.size,
                  core=board.core, clock_hz=board.clock_hz, board=board.name if board_name else None)


@click.command()
@click.option("--family", required=True, type=click.Choice(["vit", "lmuformer", "spiking-lmuformer"]))
@click.option("--dataset", required=True, help="digits, fashion-mnist, fsdd or npz:PATH")
@click.option("--board", "board_name", help="board name or .toml path: its SRAM (ram region) and flash are the budget")
@click.option("--sram", help="SRAM budget, e.g. 64KiB (overrides the board's)")
@click.option("--flash", help="flash budget, e.g. 1MiB (overrides the board's)")
@click.option("--trials", type=click.IntRange(1, 100000), default=20, show_default=True,
              help="trained (within-budget) candidates; over-budget ones are extra and are not trained")
@click.option("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db), e.g. postgresql://...")
@click.option("--study", "study_name", help="study name (default FAMILY-DATASET); workers on one storage share it")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="local worker threads")
@click.option("--epochs", type=click.IntRange(1, 1000), default=2, show_default=True,
              help="training epochs per candidate")
@click.option("--max-train", type=click.IntRange(1), help="train each candidate on at most this many samples")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(), help="folder for best.json, pareto.png, study.db")
@click.option("--json", "as_json", is_flag=True)
def search(family, dataset, board_name, sram, flash, trials, storage, study_name, jobs, epochs, max_train, seed, out,
           as_json) -> None:
    """Find the most accurate model of a family that fits an SRAM/flash budget (Optuna)."""
    from edgeformer.data import load_dataset
    from edgeformer.nas.space import space
    from edgeformer.nas.study import SearchConfig, run_search

    if storage and not storage.startswith(("sqlite:", "postgresql", "mysql")):
        raise UserError(f"--storage {storage!r}: give an Optuna storage URL (sqlite:///FILE or postgresql://...)")
    budget = _budget(board_name, sram, flash)
    sp = space(family)
    ds = load_dataset(dataset)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; pass a folder for --out")
    bar = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TextColumn("best {task.fields[best]}"),
                   TimeElapsedColumn(), console=err)
    task = bar.add_task("search", total=trials, best="-")

    def progress(done, total, best):
        bar.update(task, completed=done, best="-" if best is None else f"{best:.4f}")

    cfg = SearchConfig(sp, ds, budget, out, trials=trials, storage=storage, study_name=study_name, jobs=jobs,
                       epochs=epochs, seed=seed, max_train=max_train, progress=progress,
                       log=lambda m: err.print(f"[dim]{m}[/]"))
    err.print(f"[dim]budget: SRAM {budget.sram_bytes} B, flash {budget.flash_bytes} B ({budget.core})[/]")
    with bar:
        result = run_search(cfg)
    result["out"] = str(out)
    if as_json:
        print_json(result)
        return
    b = result["best"]
    if b is None:
        err.print("no candidate within budget has finished training yet; run the search again to continue")
        return
    print_table(f"best {family} on {ds.name} within SRAM {budget.sram_bytes} B / flash {budget.flash_bytes} B -> "
                f"{out / 'best.json'}", ["trial", "accuracy", "sram_bytes", "flash_bytes", "arena_bytes",
                                          "est_latency_ms"],
                [[b["trial"], f"{b['accuracy']:.4f}", b["sram_bytes"], b["flash_bytes"], b["arena_bytes"],
                  f"{b['est_latency_ms']:.3f}"]])
    t = result["trials"]
    mm = result["memory_model"]
    err.print(f"trials: {', '.join(f'{v} {k}' for k, v in t.items())}; memory model: {mm['lowered']} lowered, "
              f"{mm['cache_hits']} cached; {result['wall_seconds']} s")


COMMANDS = (search,)
