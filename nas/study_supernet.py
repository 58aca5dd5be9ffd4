"""The supernet in a study: its budget pool, train-or-load, and after the study the Kendall
tau check and the winner's fine-tune (best.json)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeformer.fsio import write_json
from edgeformer.nas.study_storage import driver, study_name
from edgeformer.nas.study_trials import feasible

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig
    from edgeformer.nas.memory import MemoryModel


def train_progress(cfg: SearchConfig, what: str):
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


def prepare_supernet(cfg: SearchConfig, pool: list | None = None):
    from edgeformer.nas.oneshot import prepare
    from edgeformer.nas.standalone import pick_device
    from edgeformer.nas.supernet_store import SupernetStore

    # A PostgreSQL study's workers share one supernet through its database; SQLite studies
    # live on one machine and share the supernet.pt file.
    shared = (SupernetStore(driver(cfg.storage), study_name(cfg))
              if cfg.storage and cfg.storage.startswith("postgresql") else None)
    return prepare(cfg.space.family, cfg.space, cfg.dataset, cfg.supernet_file or cfg.out / "supernet.pt",
                   cfg.supernet_epochs, cfg.seed, cfg.max_train, pick_device(cfg.device), cfg.log,
                   train_progress(cfg, "supernet"), pool=pool, shared=shared, distill=cfg.supernet_distill)


def after_supernet_study(study, best: dict[str, Any], oneshot, cfg: SearchConfig, starts: list[dict] = ()):
    """Kendall tau check (supernet.json), then the winner fine-tuned: its test accuracy into best.json."""
    from edgeformer.nas.oneshot_report import finetune_best, rank_check
    from edgeformer.nas.standalone import pick_device

    device = pick_device(cfg.device)
    tau = None
    ok = [t for t in study.get_trials(deepcopy=False) if feasible(t)]
    rerank = None
    if cfg.rerank_top > 1:
        from edgeformer.nas.oneshot_rerank import rerank_top
        from edgeformer.nas.study_results import best_record

        top, rows = rerank_top(oneshot, ok, cfg.rerank_top, cfg.space.family, cfg.dataset, cfg.rerank_epochs,
                               cfg.seed, device, cfg.log, train_progress(cfg, "re-rank"),
                               include=[t for t in ok if t.params in starts])
        rerank = {"top": cfg.rerank_top, "epochs": cfg.rerank_epochs, "candidates": rows,
                  "supernet_pick": best["trial"], "pick": top.number}
        write_json(cfg.out / "rerank.json", rerank)   # best.json stays a spec plus its known metadata
        if top.number != best["trial"]:
            cfg.log(f"re-rank: trial {top.number} replaces trial {best['trial']} as the winner")
            best = best_record(study, cfg, top)
    if cfg.tau_candidates:
        tau = rank_check(oneshot, ok, cfg.space.family, cfg.dataset, cfg.tau_candidates, cfg.epochs, cfg.seed,
                         device, cfg.out, cfg.log, train_progress(cfg, "tau check"), seeds=cfg.tau_seeds)
    best = {**best, **finetune_best(oneshot, best, cfg.space.family, cfg.dataset, cfg.final_epochs, cfg.seed,
                                    device, cfg.out, cfg.log, train_progress(cfg, "final"))}
    best.update({"kendall_tau": tau["kendall_tau"] if tau else None, "objective": "supernet",
                 "supernet_epochs": cfg.supernet_epochs})
    write_json(cfg.out / "best.json", best)
    extra = {"supernet": {**oneshot.meta, "evaluations": oneshot.evaluations,
                          "evaluations_per_second": oneshot.rate()}, "kendall": tau, "rerank": rerank}
    return best, extra
