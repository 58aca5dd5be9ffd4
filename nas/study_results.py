"""A study's results: best.json (the most accurate feasible trial) and the Pareto plot."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from edgeformer.fsio import write_json
from edgeformer.nas.study_trials import feasible
from edgeformer.specs import spec_from_dict

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig


def best_record(study, cfg: SearchConfig, top) -> dict[str, Any]:
    """best.json's content for trial `top`: its spec, memory, scores and the budget."""
    u = top.user_attrs
    return {**spec_from_dict(u["spec"]).to_dict(), "sram_bytes": u["sram_bytes"], "flash_bytes": u["flash_bytes"],
            "accuracy": top.values[0], "trial": top.number, "arena_bytes": u["arena_bytes"],
            "weights_bytes": u["weights_bytes"], "est_latency_ms": u["est_latency_ms"], "macs": u["macs"],
            "budget": {"sram_bytes": cfg.budget.sram_bytes, "flash_bytes": cfg.budget.flash_bytes,
                       "board": cfg.budget.board, "core": cfg.budget.core}, "dataset": cfg.dataset.name,
            "epochs": cfg.epochs, "study": study.study_name}


def write_results(study, cfg: SearchConfig, write_best: bool = True) -> dict[str, Any] | None:
    ok = [t for t in study.get_trials(deepcopy=False) if feasible(t)]
    if not ok:
        return None
    top = max(ok, key=lambda t: (t.values[0], -t.values[1], -t.number))
    best = best_record(study, cfg, top)
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
