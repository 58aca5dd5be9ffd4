"""The Optuna study behind `edgeformer search`: objectives, hard memory constraints, resume.

Objectives: accuracy (max) and estimated latency (min). Accuracy is, by default, the
candidate's accuracy with weights inherited from a supernet trained once over the space
(nas/oneshot.py; scored on a validation split held out of the training set); with
`supernet=False`, the test accuracy after a short training of its own. After a supernet
study the winner is fine-tuned standalone and its test accuracy goes into best.json, and a
few candidates are trained standalone to measure the ranking (Kendall tau, supernet.json). The
latency is nas/latency.py's per-op cost model over the candidate's lowered graph, calibrated
by QEMU profile runs on the core's stand-in (instructions / clock: one inference, a streaming
model's whole sequence). SRAM and flash are hard constraints through `constraints_func`; a candidate
over budget is answered from the memory model alone, before any training, with accuracy 0.
Storage: any Optuna URL (SQLite file by default, PostgreSQL for many processes). A killed
worker's running trial is marked FAIL (at once on resume when the worker ran on this machine and
its process is gone, else by the heartbeat check) and its candidate re-run as a new trial; a
resumed search does the same for trials an interrupt (Ctrl-C) left FAIL,
so a killed search loses no candidate and repeats no trial number. A study keeps the settings
its trials were scored under (budget, dataset, training sizes): resuming it with others is an
error, not a silent mix.

This module holds the search's configuration, the trial function and the loop; each other
job has its module: storage (study_storage), trial states (study_trials), pinned settings
(study_settings), resume and retries (study_resume), the fallback for a budget at the
space's edge (study_fallback), the supernet's part (study_supernet), best.json and the plot
(study_results).
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from edgeformer.nas.memory import Budget, MemoryModel
from edgeformer.nas.space import Space
from edgeformer.nas.space_start import params_of
from edgeformer.nas.study_fallback import smallest_reachable
from edgeformer.nas.study_resume import WORKER, note_resume, recover
from edgeformer.nas.study_settings import check_objective, check_settings
from edgeformer.nas.study_storage import driver, storage_for, study_name
from edgeformer.nas.study_supernet import after_supernet_study, feasible_pool, prepare_supernet
from edgeformer.nas.study_trials import constraints, feasible, trial_counts
from edgeformer.nas.study_results import write_results

CYCLES_PER_MAC = 4.0          # the old uncalibrated MACs proxy, kept for bench/latency_model.py's comparison


@dataclass
class SearchConfig:
    space: Space
    dataset: Any
    budget: Budget
    out: Path
    trials: int = 20                 # trained (feasible) candidates the study should reach
    storage: str | None = None
    study_name: str | None = None
    jobs: int = 1
    epochs: int = 2
    seed: int = 0
    max_train: int | None = None     # train on at most this many samples (speed)
    log: Callable[[str], None] = lambda m: None
    progress: Callable[[int, int, float | None], None] = lambda done, total, best: None
    memory: MemoryModel | None = field(default=None, repr=False)
    supernet: bool = True            # accuracy from a weight-sharing supernet (else: train each candidate)
    supernet_epochs: int = 10
    supernet_distill: bool = False   # in-place distillation from the largest sub-network (BigNAS)
    supernet_file: Path | None = None  # default out/supernet.pt (a cache: reused when its settings match)
    final_epochs: int = 3            # fine-tune of the winner from its supernet weights (0: as inherited)
    tau_candidates: int = 5          # candidates trained standalone (`epochs`) for Kendall tau; 0 skips
    tau_seeds: int = 1               # standalone seeds per tau candidate (their mean is the ground truth)
    device: str | None = None        # torch device for the supernet and standalone training; None: auto
    rerank_top: int = 0              # re-rank the supernet's top k by a short fine-tune on the validation split; 0/1: off
    rerank_epochs: int = 1
    pool_size: int = 0               # specs sampled to find the feasible pool the supernet trains on; 0: whole space
    start_specs: tuple = ()          # known models (a preset, the user's own) the study tries first (warm start)
    train_progress: Callable[[str, int, int, int, int, float], None] | None = None  # (what, epoch, epochs, step, steps, loss)


# Heartbeats and constraints_func are what resume and hard budgets need; Optuna 5 flags them
# experimental / deprecated-in-favour-of-set_constraint, which is not for our users to read.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message=r".*constraints_func.* deprecated",
                        category=FutureWarning)

# Kept importable from here: tests and bench scripts name them as edgeformer.nas.study.*.
__all__ = ["CYCLES_PER_MAC", "SearchConfig", "driver", "feasible", "make_objective", "run_search", "storage_for",
           "study_name", "write_results"]


def _train_accuracy(spec, cfg: SearchConfig) -> float:
    import numpy as np

    from edgeformer.data.dataset import Dataset
    from edgeformer.train import TrainConfig, train_model

    ds = cfg.dataset
    if cfg.max_train and len(ds.x_train) > cfg.max_train:
        idx = np.random.default_rng(cfg.seed).choice(len(ds.x_train), cfg.max_train, replace=False)
        ds = Dataset(ds.name, ds.kind, ds.x_train[idx], ds.y_train[idx], ds.x_test, ds.y_test,
                     ds.num_classes, ds.input_shape, ds.provenance + f", {cfg.max_train} train samples")
    _, metrics = train_model(spec, ds, TrainConfig(epochs=cfg.epochs, seed=cfg.seed))
    return float(metrics["test_accuracy"])


def make_objective(cfg: SearchConfig, memory: MemoryModel, score: Callable[[Any], float] | None = None):
    """The trial function; `score(spec) -> accuracy` defaults to training the candidate (cfg.epochs)."""
    from edgeformer.nas.latency import LatencyObjective

    b = cfg.budget
    score = score or (lambda spec: _train_accuracy(spec, cfg))
    latency = LatencyObjective(b.core, b.clock_hz, cfg.log)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        spec = cfg.space.suggest(trial, cfg.dataset)
        mem = memory(spec)
        latency_ms = latency(spec, mem)
        cons = [float(mem["sram_bytes"] - b.sram_bytes), float(mem["flash_bytes"] - b.flash_bytes)]
        attrs = {**mem, "spec": spec.to_dict(), "constraints": cons, "est_latency_ms": latency_ms}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        if any(c > 0 for c in cons):
            return 0.0, latency_ms     # over budget: rejected before any evaluation
        same = _evaluated(trial, spec)  # a repeat of an already scored candidate is not scored again
        acc = same if same is not None else score(spec)
        return acc, latency_ms

    return objective


def _evaluated(trial: optuna.Trial, spec) -> float | None:
    want = spec.to_dict()
    for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("spec") == want and feasible(t):
            return t.values[0]
    return None


def fail_own_running(study) -> None:
    """Ctrl-C: Optuna fails the interrupted trial only when the interrupt lands inside the
    objective; one landing in its tell or bookkeeping leaves the trial RUNNING. Fail this
    process's running trials here, so the study shows the interruption and a resume re-runs them."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("worker") == WORKER:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)


def enqueue_starts(study, starts: list[dict], log: Callable[[str], None]) -> None:
    """Queue each start spec's params once (a resumed study already holds them): the sampler's
    first trials, judged by the same memory model and score as any other candidate."""
    # A queued trial not run yet keeps its params in Optuna's fixed_params until it runs.
    held = [t.params or t.system_attrs.get("fixed_params", {}) for t in study.get_trials(deepcopy=False)]
    for params in starts:
        if params not in held:
            study.enqueue_trial(params)
            held.append(params)
            log(f"warm start: queued {params}")


def run_search(cfg: SearchConfig) -> dict[str, Any]:
    """Run (or resume) the study until it holds cfg.trials feasible trials; write best.json
    and pareto.png; return a summary."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    starts = [params_of(cfg.space, spec, cfg.dataset) for spec in cfg.start_specs]   # not in the space: exit 2 now
    cfg.out.mkdir(parents=True, exist_ok=True)
    memory = cfg.memory or MemoryModel(cfg.budget, cfg.log, workers=cfg.jobs)
    smallest, fallback = smallest_reachable(cfg, memory)
    storage = storage_for(cfg)
    name = study_name(cfg)
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                directions=["maximize", "minimize"], sampler=_sampler(cfg, storage, name))
    note_resume(study, cfg)
    check_objective(study, cfg)
    check_settings(study, cfg)
    recover(study, cfg)
    enqueue_starts(study, starts, cfg.log)
    oneshot = prepare_supernet(cfg, feasible_pool(cfg, memory)) if cfg.supernet else None
    cap = 20 * cfg.trials  # infeasible candidates are cheap but must not run forever
    objective = make_objective(cfg, memory, oneshot.score if oneshot else None)

    def counts() -> tuple[int, int, int]:
        ts = study.get_trials(deepcopy=False)
        return sum(feasible(t) for t in ts), len(ts), sum(t.state == TrialState.WAITING for t in ts)

    def stop_when_done(study_, _trial) -> None:
        done, total, waiting = counts()
        best = max((t.values[0] for t in study_.get_trials(deepcopy=False) if feasible(t)), default=None)
        cfg.progress(min(done, cfg.trials), cfg.trials, best)
        if (done >= cfg.trials or total >= cap) and not waiting:   # re-runs of failed trials go first
            study_.stop()

    t0 = time.perf_counter()
    done, total, waiting = counts()
    cfg.progress(min(done, cfg.trials), cfg.trials, None)
    if (done < cfg.trials and total < cap) or waiting:
        try:
            study.optimize(objective, n_jobs=cfg.jobs, callbacks=[stop_when_done], gc_after_trial=False)
        except KeyboardInterrupt:
            fail_own_running(study)
            raise
    if not counts()[0]:
        # The sampler found nothing within budget (a budget at the space's edge): the smallest
        # corner that fits is a candidate the study must hold.
        cfg.log(f"no sampled candidate fit in {counts()[1]} trials: adding the smallest spec that fits")
        queued = (TrialState.WAITING, TrialState.RUNNING)   # (a COMPLETE one would fit: not here)
        if not any(t.params == fallback for t in study.get_trials(deepcopy=False, states=queued)):
            study.enqueue_trial(fallback)
        study.optimize(objective, n_trials=1, callbacks=[stop_when_done], gc_after_trial=False)
    study_wall = time.perf_counter() - t0
    # A supernet study's best.json waits for the fine-tune: its `accuracy` is a test accuracy.
    best = write_results(study, cfg, write_best=oneshot is None)
    extra = {}
    if oneshot is not None and best is not None:
        best, extra = after_supernet_study(study, best, oneshot, cfg, starts)
    wall = time.perf_counter() - t0
    return {"study": name, "best": best, "smallest_reachable": smallest, "wall_seconds": round(wall, 2),
            "study_seconds": round(study_wall, 2), **extra,
            "memory_model": {"lowered": memory.lowered, "cache_hits": memory.hits,
                             "candidates_per_second": round(memory.lowered / memory.lower_seconds, 2)
                             if memory.lower_seconds else None},
            "trials": trial_counts(study)}


def _sampler(cfg: SearchConfig, storage, name: str) -> optuna.samplers.BaseSampler:
    # Seeded by the seed and the trials already stored (and the process for shared storages),
    # so a resumed or second worker does not replay the first one's random start-up samples.
    try:
        n = len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))
    except KeyError:
        n = 0
    seed = cfg.seed * 100_003 + n + (os.getpid() if cfg.storage else 0)
    return optuna.samplers.TPESampler(seed=seed % 2**31, constraints_func=constraints, multivariate=True,
                                      n_startup_trials=min(10, max(3, cfg.trials // 2)))
