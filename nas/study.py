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
"""
from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from edgeformer.errors import DoesNotFit, UserError
from edgeformer.fsio import write_json
from edgeformer.nas.memory import Budget, MemoryModel
from edgeformer.nas.space import Space
from edgeformer.specs import spec_from_dict

CYCLES_PER_MAC = 4.0          # the old uncalibrated MACs proxy, kept for bench/latency_model.py's comparison
HEARTBEAT_S, GRACE_S = 2, 8   # a trial silent for GRACE_S belongs to a dead worker
MAX_RETRY = 2                 # a candidate whose trial failed is re-run at most this often
WORKER = f"{socket.gethostname()}:{os.getpid()}"


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
    supernet_file: Path | None = None  # default out/supernet.pt (a cache: reused when its settings match)
    final_epochs: int = 3            # fine-tune of the winner from its supernet weights (0: as inherited)
    tau_candidates: int = 5          # candidates trained standalone (`epochs`) for Kendall tau; 0 skips
    device: str | None = None        # torch device for the supernet and standalone training; None: auto
    pool_size: int = 0               # specs sampled to find the feasible pool the supernet trains on; 0: whole space
    train_progress: Callable[[str, int, int, int, int, float], None] | None = None  # (what, epoch, epochs, step, steps, loss)


# Heartbeats and constraints_func are what resume and hard budgets need; Optuna 5 flags them
# experimental / deprecated-in-favour-of-set_constraint, which is not for our users to read.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message=r".*constraints_func.* deprecated",
                        category=FutureWarning)


def _driver(url: str) -> str:
    """postgresql:// means psycopg (v3) to SQLAlchemy 2.1; the `postgres` extra installs psycopg2."""
    import importlib.util

    if not url.startswith("postgresql://"):
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    raise UserError("--storage postgresql://... needs a PostgreSQL driver: pip install 'edgeformer[postgres]'")


def study_name(cfg: SearchConfig) -> str:
    return cfg.study_name or f"{cfg.space.family}-{cfg.dataset.name}"


def _storage_url(cfg: SearchConfig) -> str:
    return _driver(cfg.storage or f"sqlite:///{(cfg.out / 'study.db').resolve()}")


def storage_for(cfg: SearchConfig) -> RDBStorage:
    url = _storage_url(cfg)
    try:
        return RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                          heartbeat_stale_trial_callback=_LockedRetry(url),
                          engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {})
    except Exception as e:  # SQLAlchemy's connection/driver errors, Optuna's URL checks
        import sqlalchemy

        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        try:
            shown = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        except Exception:
            shown = url.split("@")[-1]
        raise UserError(f"--storage {shown}: cannot open the study storage: {first[:200]}") from None


class _LockedRetry:
    """Queues a failed trial's candidate again (Optuna's retry callback) unless some trial's
    retry history already holds it, under the study lock: workers that fail the same stale
    trials, or resume together, queue each failure once."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, study, trial) -> None:
        from edgeformer.nas.study_lock import study_lock

        with study_lock(self.url, study.study_name):
            ts = study.get_trials(deepcopy=False)
            # A retry lists every trial of its chain in retry_history ("failed_trial" names the first).
            if trial.number not in {n for t in ts for n in t.system_attrs.get("retry_history", ())}:
                RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, trial)


def _constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    return trial.user_attrs.get("constraints", [1.0, 1.0])  # <= 0 feasible (Optuna's convention)


def feasible(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == TrialState.COMPLETE and all(c <= 0 for c in _constraints(t))


def smallest_reachable(cfg: SearchConfig, memory: MemoryModel) -> tuple[dict[str, int], dict[str, Any]]:
    """The smallest SRAM and flash over the space's corner specs, and the Optuna params of the
    fitting corner with the least SRAM (the study's fallback trial); DoesNotFit if none fits."""
    corners = cfg.space.corner_trials(cfg.dataset)
    mems = memory.many([spec for _, spec in corners])
    sram, flash = min(m["sram_bytes"] for m in mems), min(m["flash_bytes"] for m in mems)
    b = cfg.budget
    fit = [(m["sram_bytes"], params) for (params, _), m in zip(corners, mems)
           if m["sram_bytes"] <= b.sram_bytes and m["flash_bytes"] <= b.flash_bytes]
    if not fit:
        where = f"SRAM {b.sram_bytes} B / flash {b.flash_bytes} B{' of ' + b.board if b.board else ''}"
        if sram <= b.sram_bytes and flash <= b.flash_bytes:   # each fits alone, no one spec fits both
            low_sram = min((m for m in mems if m["sram_bytes"] <= b.sram_bytes), key=lambda m: m["flash_bytes"])
            low_flash = min((m for m in mems if m["flash_bytes"] <= b.flash_bytes), key=lambda m: m["sram_bytes"])
            raise DoesNotFit(f"no {cfg.space.family} candidate fits {where}: the smallest within the SRAM needs flash "
                             f"{low_sram['flash_bytes']} B, the smallest within the flash needs SRAM "
                             f"{low_flash['sram_bytes']} B")
        raise DoesNotFit(f"no {cfg.space.family} candidate fits {where}: the smallest the space reaches is SRAM "
                         f"{sram} B ({max(0, sram - b.sram_bytes)} B over) and flash {flash} B "
                         f"({max(0, flash - b.flash_bytes)} B over)")
    return {"sram_bytes": sram, "flash_bytes": flash}, min(fit, key=lambda f: f[0])[1]


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
        trial.set_user_attr("worker", WORKER)   # first: a resume tells a dead local worker's trial by it
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


def run_search(cfg: SearchConfig) -> dict[str, Any]:
    """Run (or resume) the study until it holds cfg.trials feasible trials; write best.json
    and pareto.png; return a summary."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg.out.mkdir(parents=True, exist_ok=True)
    memory = cfg.memory or MemoryModel(cfg.budget, cfg.log, workers=cfg.jobs)
    smallest, fallback = smallest_reachable(cfg, memory)
    storage = storage_for(cfg)
    name = study_name(cfg)
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                directions=["maximize", "minimize"], sampler=_sampler(cfg, storage, name))
    _note_resume(study, cfg)
    _check_objective(study, cfg)
    _check_settings(study, cfg)
    _recover(study, cfg)
    oneshot = _prepare_supernet(cfg, feasible_pool(cfg, memory)) if cfg.supernet else None
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
        study.optimize(objective, n_jobs=cfg.jobs, callbacks=[stop_when_done], gc_after_trial=False)
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
        best, extra = _after_supernet_study(study, best, oneshot, cfg)
    wall = time.perf_counter() - t0
    return {"study": name, "best": best, "smallest_reachable": smallest, "wall_seconds": round(wall, 2),
            "study_seconds": round(study_wall, 2), **extra,
            "memory_model": {"lowered": memory.lowered, "cache_hits": memory.hits,
                             "candidates_per_second": round(memory.lowered / memory.lower_seconds, 2)
                             if memory.lower_seconds else None},
            "trials": _counts(study)}


def _check_objective(study, cfg: SearchConfig) -> None:
    """A study's accuracies are all of one kind: supernet scores and trained accuracies do not mix."""
    want = "supernet" if cfg.supernet else "standalone"
    have = study.user_attrs.get("objective")
    if have is None:
        if study.get_trials(deepcopy=False):
            have = "standalone"  # studies from before the supernet
        else:
            study.set_user_attr("objective", want)
            return
    if have != want:
        flag = "--supernet" if have == "supernet" else "--no-supernet"
        raise UserError(f"study {study.study_name} holds {have} accuracies; resume it with {flag}, "
                        f"or start a new one with another --out or --study")


# What a trial's values and constraints depend on, with the flag that sets it: a study resumed
# with other settings would mix incomparable trials and judge them against another budget.
SETTINGS_FLAGS = {"family": "--family", "dataset": "--dataset", "sram_bytes": "--sram", "flash_bytes": "--flash", "core": "--board",
                  "clock_hz": "--board", "max_train": "--max-train", "seed": "--seed",
                  "supernet_epochs": "--supernet-epochs", "pool_size": "--pool", "epochs": "--epochs"}


def _settings(cfg: SearchConfig) -> dict[str, Any]:
    b = cfg.budget
    out = {"family": cfg.space.family, "dataset": cfg.dataset.name, "sram_bytes": b.sram_bytes, "flash_bytes": b.flash_bytes, "core": b.core,
           "clock_hz": b.clock_hz, "max_train": cfg.max_train, "seed": cfg.seed}
    # --epochs trains each candidate only without a supernet (with one it is the tau check's).
    out.update({"supernet_epochs": cfg.supernet_epochs, "pool_size": cfg.pool_size} if cfg.supernet
               else {"epochs": cfg.epochs})
    return out


def _check_settings(study, cfg: SearchConfig) -> None:
    want = _settings(cfg)
    have = study.user_attrs.get("settings")
    if have is None:   # a new study, or one from before settings were stored: these are its settings
        study.set_user_attr("settings", want)
        return
    for k, v in want.items():
        if k in have and have[k] != v:
            raise UserError(f"study {study.study_name} was run with {SETTINGS_FLAGS[k]} giving {k}={have[k]} "
                            f"(now {v}); resume it with the same settings, or start a new one with another "
                            "--out or --study")


def _recover(study, cfg: SearchConfig) -> None:
    """Re-run the candidates of trials a previous run left unfinished: RUNNING ones of a dead
    worker of this machine (its process is gone: no need to wait out the heartbeat grace; a
    remote worker's are failed by the heartbeat check as the study runs), and FAIL ones nothing
    re-ran yet (an interrupted trial is marked FAIL by Optuna, with no retry of its own). Each
    comes back as a WAITING trial with the same params, which the study runs first."""
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where, _, pid = t.user_attrs.get("worker", "").rpartition(":")
        if where == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    retry = _LockedRetry(_storage_url(cfg))
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        retry(study, t)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True    # another user's process
    return True


def _train_progress(cfg: SearchConfig, what: str):
    if cfg.train_progress is None:
        return None
    return lambda epoch, epochs, step, steps, loss: cfg.train_progress(what, epoch, epochs, step, steps, loss)


def feasible_pool(cfg: SearchConfig, memory: MemoryModel) -> list | None:
    """MCUFormer's first step, the space shrunk to the budget: `pool_size` seeded samples of the
    space, kept where the memory model says they fit. The supernet trains on these only."""
    import numpy as np

    from edgeformer.nas.space import sample

    if not cfg.pool_size:
        return None
    rng = np.random.default_rng(cfg.seed)
    specs = [sample(cfg.space, cfg.dataset, rng, mode) for mode in ("largest", "smallest")]
    specs += [sample(cfg.space, cfg.dataset, rng) for _ in range(max(0, cfg.pool_size - 2))]
    specs = list({repr(s.to_dict()): s for s in specs}.values())
    cfg.log(f"supernet pool: {len(specs)} sampled specs through the memory model")
    b = cfg.budget
    pool = [s for s, m in zip(specs, memory.many(specs))
            if m["sram_bytes"] <= b.sram_bytes and m["flash_bytes"] <= b.flash_bytes]
    cfg.log(f"supernet pool: {len(pool)} of {len(specs)} fit the budget")
    return pool or None


def _prepare_supernet(cfg: SearchConfig, pool: list | None = None):
    from edgeformer.nas.oneshot import prepare
    from edgeformer.nas.standalone import pick_device
    from edgeformer.nas.supernet_store import SupernetStore

    # A PostgreSQL study's workers share one supernet through its database; SQLite studies
    # live on one machine and share the supernet.pt file.
    shared = (SupernetStore(_driver(cfg.storage), study_name(cfg))
              if cfg.storage and cfg.storage.startswith("postgresql") else None)
    return prepare(cfg.space.family, cfg.space, cfg.dataset, cfg.supernet_file or cfg.out / "supernet.pt",
                   cfg.supernet_epochs, cfg.seed, cfg.max_train, pick_device(cfg.device), cfg.log,
                   _train_progress(cfg, "supernet"), pool=pool, shared=shared)


def _after_supernet_study(study, best: dict[str, Any], oneshot, cfg: SearchConfig):
    """Kendall tau check (supernet.json), then the winner fine-tuned: its test accuracy into best.json."""
    from edgeformer.nas.oneshot_report import finetune_best, rank_check
    from edgeformer.nas.standalone import pick_device

    device = pick_device(cfg.device)
    tau = None
    if cfg.tau_candidates:
        ok = [t for t in study.get_trials(deepcopy=False) if feasible(t)]
        tau = rank_check(oneshot, ok, cfg.space.family, cfg.dataset, cfg.tau_candidates, cfg.epochs, cfg.seed,
                         device, cfg.out, cfg.log, _train_progress(cfg, "tau check"))
    best = {**best, **finetune_best(oneshot, best, cfg.space.family, cfg.dataset, cfg.final_epochs, cfg.seed,
                                    device, cfg.out, cfg.log, _train_progress(cfg, "final"))}
    best.update({"kendall_tau": tau["kendall_tau"] if tau else None, "objective": "supernet",
                 "supernet_epochs": cfg.supernet_epochs})
    write_json(cfg.out / "best.json", best)
    extra = {"supernet": {**oneshot.meta, "evaluations": oneshot.evaluations,
                          "evaluations_per_second": oneshot.rate()}, "kendall": tau}
    return best, extra


def _sampler(cfg: SearchConfig, storage, name: str) -> optuna.samplers.BaseSampler:
    # Seeded by the seed and the trials already stored (and the process for shared storages),
    # so a resumed or second worker does not replay the first one's random start-up samples.
    try:
        n = len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))
    except KeyError:
        n = 0
    seed = cfg.seed * 100_003 + n + (os.getpid() if cfg.storage else 0)
    return optuna.samplers.TPESampler(seed=seed % 2**31, constraints_func=_constraints, multivariate=True,
                                      n_startup_trials=min(10, max(3, cfg.trials // 2)))


def _counts(study) -> dict[str, int]:
    ts = study.get_trials(deepcopy=False)
    out = {s.name.lower(): sum(t.state == s for t in ts) for s in TrialState}
    out["feasible"] = sum(feasible(t) for t in ts)
    return {k: v for k, v in out.items() if v}


def _note_resume(study, cfg: SearchConfig) -> None:
    ts = study.get_trials(deepcopy=False)
    if ts:
        c = _counts(study)
        cfg.log(f"resuming study {study.study_name}: " + ", ".join(f"{v} {k}" for k, v in c.items())
                + (" (a dead worker's running trials are failed and re-run: at once for this machine's, "
                   f"after {GRACE_S} s without heartbeat for others')" if c.get("running") else ""))


def write_results(study, cfg: SearchConfig, write_best: bool = True) -> dict[str, Any] | None:
    ok = [t for t in study.get_trials(deepcopy=False) if feasible(t)]
    if not ok:
        return None
    top = max(ok, key=lambda t: (t.values[0], -t.values[1], -t.number))
    u = top.user_attrs
    best = {**spec_from_dict(u["spec"]).to_dict(), "sram_bytes": u["sram_bytes"], "flash_bytes": u["flash_bytes"],
            "accuracy": top.values[0], "trial": top.number, "arena_bytes": u["arena_bytes"],
            "weights_bytes": u["weights_bytes"], "est_latency_ms": u["est_latency_ms"], "macs": u["macs"],
            "budget": {"sram_bytes": cfg.budget.sram_bytes, "flash_bytes": cfg.budget.flash_bytes,
                       "board": cfg.budget.board, "core": cfg.budget.core}, "dataset": cfg.dataset.name,
            "epochs": cfg.epochs, "study": study.study_name}
    if write_best:
        write_json(cfg.out / "best.json", best)
    _plot(study, cfg.out / "pareto.png", "supernet accuracy (validation split)" if cfg.supernet else "test accuracy")
    return best


def _plot(study, path: Path, ylabel: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    ok = [t for t in ts if feasible(t)]
    front = {t.number for t in study.best_trials}
    fig, ax = plt.subplots(figsize=(6, 4))
    bad = [t for t in ts if not feasible(t)]
    ax.scatter([t.values[1] for t in bad], [0.0] * len(bad), c="lightgrey", s=12, label="over budget (not trained)")
    ax.scatter([t.values[1] for t in ok], [t.values[0] for t in ok], c="tab:blue", s=16, label="feasible")
    pf = sorted((t for t in ok if t.number in front), key=lambda t: t.values[1])
    ax.plot([t.values[1] for t in pf], [t.values[0] for t in pf], "o-", c="tab:red", label="Pareto front")
    ax.set_xlabel("estimated latency, ms (cost model calibrated on QEMU profiles)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{study.study_name}: {len(ok)} feasible of {len(ts)}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
