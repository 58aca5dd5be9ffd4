"""Search accuracy benchmark: the best model `edgeformer search` finds (supernet) vs the
hand-sized preset for the same budget, both trained with ONE recipe over several seeds in the same run.

Budgets (issue 15) are the (SRAM, flash) pairs of real boards, 8 KiB to 320 KiB of SRAM and
64 KiB to 1 MiB of flash (BOARDS; the memory model runs for the default board's core, a
Cortex-M7, for all of them). Per budget the table names the resource that binds: the space's
largest specs (every patch, head and low-rank choice, the largest elsewhere) exceed it, and
how many of the study's trials the memory model rejected on each; a budget the whole space
fits is marked "binds nothing". Datasets: fashion-mnist (ViT), fsdd and fashion-mnist-rows
(LMUFormer; the row-sequential set, edgeformer/data/seqimages.py, where fsdd's 99%+ leaves no
room). The preset of a fashion-mnist budget is the spreadsheet rule
the zoo's vit-fmnist-* presets were sized by (vit-fmnist's shape: 4 heads, MLP ratio 2, full
rank; patch 4 or 2; the most MACs that fit, by the same memory model); fsdd budgets use the
zoo's BUDGET_PRESETS, fashion-mnist-rows the largest of the zoo's lmuformer-fsdd* shapes that
fits, adapted to 28 steps of 28 features, or below the smallest that shape scaled down by a
rule (scaled_lmu). Protocol (item 2): the winner and the preset are trained with recipe R
over --seeds seeds; the table gives mean +- sample std, the gap and its standard error
sqrt(s_a^2/n + s_b^2/n); "win" means gap > 2 SE, "loss" gap < -2 SE, else "noise". Reduced
data (--max-train, --epochs) is printed in the table title. With --pool N the supernet of
each budget trains only on the feasible specs among N samples (budget-restricted; one
supernet file per budget), else one supernet over the whole space serves every budget.
Search time (item 6) is the wall time of the whole search (supernet, study, tau check).

Per budget: the study (fixed trial count, over-budget candidates rejected by the memory
model before any evaluation), a Kendall tau check of the supernet's ranking, then the winner
and the preset are both trained from scratch with recipe R (nas.standalone.recipe: AdamW,
warmup + cosine, the family's lr and label smoothing, `--epochs`) on the same training
samples, once per seed, and tested on the whole test split.

    .venv/bin/python bench/search_accuracy.py                       # full: fashion-mnist + fsdd
    .venv/bin/python bench/search_accuracy.py --quick               # smoke run (digits-sized work)
    .venv/bin/python bench/search_accuracy.py --largest-only        # what binds at each budget, no training
    .venv/bin/python bench/search_accuracy.py --dataset fashion-mnist --budgets 16/128,nrf52832 --pool 200
    .venv/bin/python bench/search_accuracy.py --dataset fsdd --budgets 16,32 --epochs 10 --device cuda

Targets (issue 15): at every budget that binds, a win (gap > 2 SE); Kendall tau >= 0.6 over >= 8 candidates.

How long (measured with the older, narrower ViT space and single-seed protocol; with --seeds 3
every recipe-R figure below is 3x; the rest estimated):
  - 2-core CPU, --quick (fsdd, 16 KiB only, 400 samples): measured 83 s for the budget, ~2 min in all.
  - 2-core CPU, a reduced fashion-mnist run (measured, 58 min for three budgets, one 800 s supernet):
      bench/search_accuracy.py --dataset fashion-mnist --budgets 32,64,128 --trials 40 \
        --supernet-epochs 4 --epochs 5 --tau-candidates 3 --tau-epochs 2 --max-train 10000 --device cpu
    (10,000 training images, a 5-epoch recipe R: far from converged, ~75-78% test accuracy).
    The same settings with --budgets 320 and that run's --out: 588 s (supernet reused).
    With --budgets 32 --max-train 20000 --epochs 10 (the rest the same): 22 min in all, and
    the search's lead at 32 KiB falls from +2.61 to +0.75 points (0.8211 vs 0.8136): a short
    recipe favours the small, fast-learning 4-token ViTs the search picks.
  - 2-core CPU, fsdd (measured, 12 min for three budgets, one 133 s supernet):
      bench/search_accuracy.py --dataset fsdd --budgets 16,32,64 --trials 30 --supernet-epochs 10 \
        --epochs 15 --tau-candidates 3 --tau-epochs 5 --device cpu
  - --largest-only: the memory model on each space's largest specs (144 ViTs, 6 LMUFormers),
    a few minutes on a cold plan cache. Measured: fashion-mnist ViT 97,848 B, fsdd LMUFormer
    21,960 B (so 128/320 KiB and 32/64 KiB constrain nothing).
  - 2-core CPU, full settings: not practical. A fashion-mnist supernet epoch on 60,000 images
    (sandwich rule: largest + smallest + one random ViT per step) takes ~20-25 minutes here, so
    30 supernet epochs + 4 budgets x (100 trials + 5 tau candidates + 2 x 24-epoch trainings)
    is well over a day. Use --max-train / --epochs / --budgets to shrink it.
  - one GPU (--device cuda, an H200, measured 2026-12-04 on full data): training is Python-overhead
    bound. A standalone batch-64 step takes 3.5 ms (LMUFormer) or 6.2 ms (vit-fmnist) alone,
    3.4-4.1 ms and 6.7-7.3 ms with six processes sharing the GPU, so run budgets and seeds as
    parallel processes. A supernet sandwich step took 46 ms (LMUFormer) and 63 ms (ViT) with nine
    processes side by side: 10 supernet epochs on 58,000 samples took 7 minutes. Estimated
    from those steps, one budget at the default settings is about 45-60 minutes, most of it the
    supernet and recipe R. 15 minutes of device time was not enough for one.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

FAMILY = {"fashion-mnist": "vit", "fsdd": "lmuformer", "fashion-mnist-rows": "lmuformer"}
DEFAULT_BOARD = "stm32f746g-disco"  # the board `edgeformer search` takes its core and clock from
KIB = 1024


def summary(spec: dict) -> str:
    """A short human form of a spec."""
    if spec["family"] == "vit":
        return (f"p{spec['patch_size']} d{spec['dim']} L{spec['depth']} h{spec['heads']} mlp{spec['mlp_ratio']:g}"
                f"{'' if spec['low_rank_ratio'] >= 1 else ' r' + format(spec['low_rank_ratio'], 'g')}")
    return (f"patch{'/'.join(map(str, spec['patch_channels']))} k{spec['patch_kernel']} d{spec['dim']} "
            f"o{spec['memory_order']}x{spec['memory_inputs']} h{spec['hidden']} mlp{spec['mlp_ratio']:g} "
            f"L{spec['depth']}")


def subset(ds, max_train: int | None, seed: int):
    """The training samples recipe R uses: the same ones the search saw (train + validation)."""
    from edgeformer.nas.oneshot import split

    s = split(ds, max_train, seed)
    return np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])


# Axes whose largest choice need not give the largest SRAM (token count vs width, per-head
# scores, the low-rank split's extra op): every choice is tried; the others take their
# largest choice (the deepest ViT: the arena is reused layer by layer, depth adds flash).
EXTREME_AXES = {"vit": ("patch_size", "heads", "low_rank_ratio"), "lmuformer": ("patch_layers", "depth")}

# (board, SRAM KiB, flash KiB): real parts, from an 8 KiB Cortex-M0+ to the Cortex-M7 of the default board.
BOARDS = (("stm32g031k8", 8, 64), ("nrf51822-qfab (micro:bit class)", 16, 128), ("stm32f103c8", 20, 64),
          ("atsamd21g18", 32, 256), ("nrf52832", 64, 512), ("stm32f405rg-class, item 4", 64, 1024),
          ("stm32f411re", 128, 512), ("stm32f746g-disco", 320, 1024))


def _memory_model():
    from edgeformer.nas.memory import Budget, MemoryModel
    from edgeformer.runtime.boards import load_board

    board = load_board(DEFAULT_BOARD)
    return MemoryModel(Budget(1 << 30, 1 << 30, core=board.core, clock_hz=board.clock_hz))


def space_largest(ds, family: str) -> dict:
    """The largest SRAM and the largest flash over the space's largest specs (every choice on
    EXTREME_AXES, the largest elsewhere), by the search's own memory model, with the spec of
    each: a resource whose budget is at or above its figure binds nothing."""
    from edgeformer.nas.space import space

    specs = [spec for _, spec in space(family).extreme_trials(ds, EXTREME_AXES[family], largest=True)]
    mems = _memory_model().many(specs)
    sram = max(zip(mems, specs), key=lambda t: t[0]["sram_bytes"])
    flash = max(zip(mems, specs), key=lambda t: t[0]["flash_bytes"])
    return {"sram_bytes": sram[0]["sram_bytes"], "sram_spec": sram[1].to_dict(),
            "flash_bytes": flash[0]["flash_bytes"], "flash_spec": flash[1].to_dict()}


def preset_rule(ds, sram: int, flash: int):
    """The hand-sized ViT for a budget, as a spreadsheet would pick it: vit-fmnist's shape (4
    heads, MLP ratio 2, full rank), patch 4 or 2, dim and depth from the space's lists, the
    most MACs that fit (memory model). None if no such shape fits."""
    from edgeformer.models import macs
    from edgeformer.nas.space import vit_axes
    from edgeformer.specs import ViTSpec

    c, size = ds.input_shape[0], ds.input_shape[1]
    dims, depths = vit_axes(size)
    memory, best = _memory_model(), None
    for patch in (4, 2):
        for depth in depths:
            for dim in sorted(dims, reverse=True):   # memory grows with dim: the first fit is the widest
                if dim % 4:
                    continue
                spec = ViTSpec(in_channels=c, image_size=size, patch_size=patch, dim=dim, depth=depth, heads=4,
                               mlp_ratio=2.0, num_classes=max(2, ds.num_classes))
                m = memory(spec)
                if m["sram_bytes"] <= sram and m["flash_bytes"] <= flash:
                    if best is None or macs(spec) > macs(best):
                        best = spec
                    break
    return best


def preset_lmu(ds, sram: int, flash: int):
    """A sequence set without hand-sized presets of its own: (display name, spec) of the largest
    of the zoo's lmuformer-fsdd-* presets, adapted to the dataset's shape, that fits (memory
    model); below them scaled_lmu's rule; (None, None) if nothing fits."""
    from edgeformer.models import macs
    from edgeformer.train import adapt_preset
    from edgeformer.zoo import PRESETS

    memory, fits = _memory_model(), []
    for name in ("lmuformer-fsdd", "lmuformer-fsdd-16k", "lmuformer-fsdd-32k"):
        spec, _ = adapt_preset(name, PRESETS[name], ds)
        m = memory(spec)
        if m["sram_bytes"] <= sram and m["flash_bytes"] <= flash:
            fits.append((macs(spec), f"{name} (adapted)", spec))
    if fits:
        return max(fits, key=lambda f: f[0])[1:]
    return scaled_lmu(ds, sram, flash, memory)


LMU_SCALES = (0.75, 0.5, 0.375, 0.25, 0.125)


def scaled_lmu(ds, sram: int, flash: int, memory):
    """Below the zoo's smallest shape, the rule a spreadsheet would follow: lmuformer-fsdd's
    shape (two patch stages, depth 1, MLP ratio 2) with every width, the memory order and the
    memory inputs scaled by the largest of LMU_SCALES that fits (widths to multiples of 4)."""
    import dataclasses

    from edgeformer.train import adapt_preset
    from edgeformer.zoo import PRESETS

    base, _ = adapt_preset("lmuformer-fsdd", PRESETS["lmuformer-fsdd"], ds)
    w = lambda v, f: max(4, int(round(v * f / 4)) * 4)   # noqa: E731
    for f in LMU_SCALES:
        spec = dataclasses.replace(base, patch_channels=tuple(w(c, f) for c in base.patch_channels),
                                   dim=w(base.dim, f), hidden=w(base.hidden, f),
                                   memory_order=w(base.memory_order, f),
                                   memory_inputs=max(1, int(base.memory_inputs * f)))
        m = memory(spec)
        if m["sram_bytes"] <= sram and m["flash_bytes"] <= flash:
            return f"lmuformer-fsdd x{f:g} (rule)", spec
    return None, None


def binding(largest: dict, sram: int, flash: int) -> str:
    """Which resource of the budget the space's largest specs exceed."""
    over = [r for r, have, cap in (("SRAM", largest["sram_bytes"], sram), ("flash", largest["flash_bytes"], flash))
            if have > cap]
    return " + ".join(over) if over else "binds nothing"


def rejections(out: Path, study: str) -> dict[str, int]:
    """The study's trials the memory model rejected, by the resource they were over."""
    import optuna

    st = optuna.load_study(study_name=study, storage=f"sqlite:///{(out / 'study.db').resolve()}")
    cons = [t.user_attrs.get("constraints") for t in st.get_trials(deepcopy=False)]
    cons = [c for c in cons if c]
    return {"over_sram": sum(c[0] > 0 for c in cons), "over_flash": sum(c[1] > 0 for c in cons), "asked": len(cons)}


MIN_SEEDS = 3   # item 2: a verdict needs at least 3 seeds a side (2 make a standard error of little worth)


def seeded_stats(accs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one seed)."""
    a = np.asarray(accs, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def verdict(search: list[float], preset: list[float]) -> tuple[float, float, str]:
    """Gap of the means (points), its standard error (points), and win / loss / noise at 2 SE."""
    ms, ss = seeded_stats(search)
    mp, sp = seeded_stats(preset)
    gap = 100 * (ms - mp)
    se = 100 * float(np.sqrt(ss ** 2 / len(search) + sp ** 2 / len(preset)))
    if min(len(search), len(preset)) < MIN_SEEDS:
        return gap, se, f"n/a (< {MIN_SEEDS} seeds)"
    return gap, se, "win" if gap > 2 * se else "loss" if gap < -2 * se else "noise"


def run_budget(ds, family: str, board: str, sram: int, flash: int, largest: dict, a, out: Path,
               supernet_file: Path | None, bar) -> dict:
    from edgeformer.nas.memory import Budget
    from edgeformer.nas.space import space
    from edgeformer.nas.standalone import accuracy, pick_device, recipe, train_standalone
    from edgeformer.nas.study import SearchConfig, run_search
    from edgeformer.runtime.boards import load_board
    from edgeformer.specs import spec_from_dict
    from edgeformer.zoo import BUDGET_PRESETS, preset

    device = pick_device(a.device)
    if family == "vit":
        preset_spec = preset_rule(ds, sram, flash)
        name = "rule: -" if preset_spec is None else "rule: " + summary(preset_spec.to_dict())
    elif ds.name == "fsdd":
        name = BUDGET_PRESETS.get((ds.name, sram))
        preset_spec = preset(name) if name else None
        name = name or "-"
    else:
        name, preset_spec = preset_lmu(ds, sram, flash)
        name = name or "-"
    tasks: dict[str, int] = {}

    def train_progress(what, epoch, epochs, step, steps, loss):
        if what not in tasks:
            tasks[what] = bar.add_task(f"{ds.name} {sram // KIB}K {what}", total=epochs * steps, info="")
        bar.update(tasks[what], total=epochs * steps, completed=epoch * steps + step, info=f"loss {loss:.3f}")

    starts, start_params = (), None
    if a.warm_start and preset_spec is not None:
        from edgeformer.errors import UserError
        from edgeformer.nas.space_start import params_of
        from edgeformer.zoo import PRESETS
        # An adapted preset the space cannot hold (theta past a shorter sequence) starts from the
        # zoo spec it came from ("lmuformer-fsdd (adapted)"): its shape as the space holds it.
        zoo = PRESETS.get(name.split(" ")[0])
        for start in [s for s in (preset_spec, zoo) if s is not None]:
            try:
                start_params, starts = params_of(space(family), start, ds), (start,)
                break
            except UserError as e:   # a value the space lacks (a scaled rule's widths): the search starts cold
                bar.console.print(f"[dim]warm start: {summary(start.to_dict())} is not in the space ({e})[/]")
    search_task = bar.add_task(f"{ds.name} {sram // KIB}K/{flash // KIB}K search", total=a.trials, info="")
    t0 = time.perf_counter()
    core = load_board(DEFAULT_BOARD)  # its core and clock, as `edgeformer search --sram --flash` uses
    budget = Budget(sram_bytes=sram, flash_bytes=flash, core=core.core, clock_hz=core.clock_hz, board=board)
    cfg = SearchConfig(space(family), ds, budget, out, trials=a.trials,
                       epochs=a.tau_epochs, seed=a.seed, max_train=a.max_train, supernet=True,
                       supernet_epochs=a.supernet_epochs, supernet_file=supernet_file, final_epochs=0,
                       tau_candidates=a.tau_candidates, tau_seeds=a.tau_seeds, device=a.device, jobs=a.jobs, pool_size=a.pool,
                       rerank_top=a.rerank, rerank_epochs=a.rerank_epochs, supernet_distill=a.supernet_distill, start_specs=starts,
                       train_progress=train_progress,
                       progress=lambda done, total, best: bar.update(search_task, completed=done),
                       log=lambda m: bar.console.print(f"[dim]{m}[/]"))
    res = run_search(cfg)
    search_seconds = time.perf_counter() - t0
    best = res["best"]
    x, y = subset(ds, a.max_train, a.seed)
    accs: dict[str, list[float]] = {"search": [], "preset": []}
    for seed in range(a.seed, a.seed + a.seeds):
        rec = recipe(family, a.epochs, seed)
        for label, spec in (("search", spec_from_dict(best)), ("preset", preset_spec)):
            if spec is None:
                continue
            model, _ = train_standalone(spec, x, y, ds.name, ds.kind, rec, device,
                                        progress=lambda *p, label=label, seed=seed:
                                        train_progress(f"R {label} s{seed}", *p))
            accs[label].append(accuracy(model, ds.x_test, ds.y_test, device))
    gap, se, call = verdict(accs["search"], accs["preset"]) if accs["preset"] else \
        (None, None, "no preset fits" if preset_spec is None else "not trained (--seeds 0)")
    if start_params is not None:
        import optuna
        if spec_from_dict(best) == space(family).suggest(optuna.trial.FixedTrial(start_params), ds):
            call = "kept its start"   # the warm-started search ranked nothing above the preset's shape
    return {"dataset": ds.name, "family": family, "board": board, "sram_kib": sram // KIB, "flash_kib": flash // KIB,
            "binds": binding(largest, sram, flash), "rejected": rejections(out, res["study"]),
            "preset": name, "preset_accuracies": accs["preset"], "search_spec": summary(best),
            "search_accuracies": accs["search"], "gap_points": gap, "se_points": se, "verdict": call,
            "supernet_accuracy": best.get("supernet_accuracy"), "kendall_tau": best.get("kendall_tau"),
            "tau_candidates": a.tau_candidates, "tau_seeds": a.tau_seeds, "warm_start": bool(starts),
            "retest_tau": (res.get("kendall") or {}).get("retest_tau"), "rerank": res.get("rerank"), "search_wall_seconds": round(search_seconds, 1),
            "wall_seconds": round(time.perf_counter() - t0, 1), "sram_bytes": best["sram_bytes"],
            "flash_used": best["flash_bytes"], "trials": res["trials"], "recipe_epochs": a.epochs,
            "seeds": a.seeds, "max_train": a.max_train, "supernet_epochs": a.supernet_epochs, "pool": a.pool,
            "device": str(device), "best": best}


def _pm(accs: list[float]) -> str:
    if not accs:
        return "-"
    m, s = seeded_stats(accs)
    return f"{m:.4f} ± {s:.4f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["fashion-mnist", "fsdd", "fashion-mnist-rows", "both"], default="both")
    ap.add_argument("--budgets", help="board names or SRAM/flash KiB pairs such as 16/128, comma-separated "
                    "(default: every board of BOARDS); fsdd: SRAM KiB (flash 1 MiB, the zoo's presets)")
    ap.add_argument("--trials", type=int, default=100, help="feasible candidates per search")
    ap.add_argument("--supernet-epochs", type=int, default=30)
    ap.add_argument("--pool", type=int, default=0,
                    help="budget-restricted supernet: train on the feasible specs of this many samples (0: whole space)")
    ap.add_argument("--rerank", type=int, default=0,
                    help="re-rank the supernet's top K by a short fine-tune on the validation split (0: off)")
    ap.add_argument("--rerank-epochs", type=int, default=1)
    ap.add_argument("--warm-start", action="store_true",
                    help="the study tries the preset first (edgeformer search --start): the search must rank "
                         "something above it to return another model")
    ap.add_argument("--supernet-distill", action="store_true",
                    help="in-place distillation: sub-networks learn from the largest's outputs (BigNAS)")
    ap.add_argument("--epochs", type=int, default=24, help="recipe R: epochs for the winner and the preset")
    ap.add_argument("--seeds", type=int, default=3, help="recipe R seeds per model (item 2: at least 3)")
    ap.add_argument("--tau-candidates", type=int, default=8)
    ap.add_argument("--tau-epochs", type=int, default=5, help="standalone epochs per tau candidate")
    ap.add_argument("--tau-seeds", type=int, default=1,
                    help="standalone seeds per tau candidate: the mean is the ground truth; 2+ also measures how far "
                         "the seeds agree with each other (retest tau, the ceiling for the supernet's)")
    ap.add_argument("--max-train", type=int, help="use at most this many training samples everywhere")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--jobs", type=int, default=1,
                    help="local search workers (threads; the memory model lowers in as many processes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke run: fsdd at 16 KiB, tiny settings")
    ap.add_argument("--out", default="bench-search-out", help="search folders (studies, supernets) go here")
    ap.add_argument("--json", help="also write the rows to this JSON file (rewritten after every budget)")
    ap.add_argument("--largest-only", action="store_true",
                    help="only print each space's largest SRAM and flash and what binds at each budget (no training)")
    a = ap.parse_args()
    if a.quick:
        a.dataset, a.budgets = ("fsdd" if a.dataset == "both" else a.dataset), (a.budgets or None)
        a.trials, a.supernet_epochs, a.epochs, a.tau_candidates, a.tau_epochs = 12, 2, 2, 3, 2
        a.max_train = a.max_train or 400
    from edgeformer.data import load_dataset
    from edgeformer.zoo import BUDGET_FLASH, BUDGET_PRESETS

    datasets = ["fashion-mnist", "fsdd"] if a.dataset == "both" else [a.dataset]
    err = Console(stderr=True)
    rows = []
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err)
    with bar:
        for name in datasets:
            ds = load_dataset(name)
            if name != "fsdd":
                budgets = [(b, s * KIB, f * KIB) for b, s, f in BOARDS]
                if a.budgets:
                    known = {b: (s, f) for b, s, f in budgets}
                    budgets = [(t, *known[t]) if t in known else
                               (t, int(t.split("/")[0]) * KIB, int(t.split("/")[1]) * KIB)
                               for t in a.budgets.split(",")]
            else:
                budgets = [(f"{b // KIB} KiB", b, BUDGET_FLASH) for d, b in sorted(BUDGET_PRESETS) if d == name]
                if a.budgets:
                    budgets = [(f"{b} KiB", int(b) * KIB, BUDGET_FLASH) for b in a.budgets.split(",")]
            if a.quick and not a.budgets:
                budgets = budgets[:1]
            out = Path(a.out) / name
            largest = space_largest(ds, FAMILY[name])
            err.print(f"{name}: the space's largest specs need SRAM {largest['sram_bytes']:,} B "
                      f"({summary(largest['sram_spec'])}) and flash {largest['flash_bytes']:,} B "
                      f"({summary(largest['flash_spec'])})")
            for board, sram, flash in budgets:
                err.print(f"  {board} ({sram // KIB} KiB / {flash // KIB} KiB): {binding(largest, sram, flash)}")
            if a.largest_only:
                continue
            for board, sram, flash in budgets:
                folder = out / f"{sram // KIB}k-{flash // KIB}k"
                row = run_budget(ds, FAMILY[name], board, sram, flash, largest, a, folder,
                                 None if a.pool else out / "supernet.pt", bar)
                rows.append(row)
                err.print(f"{name} {board}: search {_pm(row['search_accuracies'])} vs preset "
                          f"{_pm(row['preset_accuracies'])}: {row['verdict']}")
                if a.json:
                    from edgeformer.fsio import write_json
                    write_json(a.json, json.loads(json.dumps(rows, default=str)))
    if a.largest_only:
        return 0
    data = f"{a.max_train or 'all'} training samples" + (" (reduced)" if a.max_train else "")
    table = Table(title=f"search (supernet) vs hand-sized preset, recipe R: {a.epochs} epochs, {a.seeds} seeds, "
                        f"{data}; test split in full", title_justify="left")
    cols = ["dataset", "board", "SRAM/flash", "binds (rejected S/F)", "preset", "preset acc", "search best",
            "search acc", "gap ± SE (pts)", "verdict", "tau (n) /retest", "search wall s"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("dataset", "board", "preset", "search best", "verdict") else "right")
    for r in rows:
        tau = "-" if r["kendall_tau"] is None else f"{r['kendall_tau']:.2f} ({r['tau_candidates']})"
        if r.get("retest_tau") is not None:   # the ground truth's own agreement across its seeds
            tau += f" /{r['retest_tau']:.2f}"
        gap = "-" if r["gap_points"] is None else f"{r['gap_points']:+.2f} ± {r['se_points']:.2f}"
        rej = r["rejected"]
        table.add_row(r["dataset"], r["board"], f"{r['sram_kib']}K/{r['flash_kib']}K",
                      f"{r['binds']} ({rej['over_sram']}/{rej['over_flash']} of {rej['asked']})", r["preset"],
                      _pm(r["preset_accuracies"]), r["search_spec"], _pm(r["search_accuracies"]), gap, r["verdict"],
                      tau, f"{r['search_wall_seconds']:.0f}")
    Console(width=240).print(table)
    binding_rows = [r for r in rows if r["binds"] != "binds nothing"]
    wins = sum(r["verdict"] == "win" for r in binding_rows)
    print(f"search wins (gap > 2 SE) at {wins} of {len(binding_rows)} budgets that bind (target: all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
