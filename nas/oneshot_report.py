"""After a supernet study: how well the supernet ranks candidates (Kendall tau against
standalone training), and the winner fine-tuned standalone for its real test accuracy."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.fsio import write_json
from edgeformer.nas.standalone import accuracy, recipe, train_standalone
from edgeformer.specs import spec_from_dict

FINETUNE_LR_SCALE = 0.5  # the winner starts from trained weights: half the from-scratch learning rate


def pick_diverse(trials: list, k: int) -> list:
    """k trials of distinct specs spread evenly over the supernet-accuracy range (best and worst included)."""
    seen, uniq = set(), []
    for t in sorted(trials, key=lambda t: (-t.values[0], t.number)):
        key = repr(sorted(t.user_attrs["spec"].items()))
        if key not in seen:
            seen.add(key)
            uniq.append(t)
    if k >= len(uniq):
        return uniq
    return [uniq[i] for i in sorted(set(np.linspace(0, len(uniq) - 1, k).round().astype(int)))]


def kendall(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return None, None
    res = kendalltau(a, b)
    tau, p = float(res.statistic), float(res.pvalue)
    return (None if math.isnan(tau) else round(tau, 4)), (None if math.isnan(p) else round(p, 4))


TAU_SEED_STRIDE = 1000  # the i-th standalone seed of a candidate: seed + i * stride (apart from the others)


def retest_tau(rows: list[dict]) -> float | None:
    """Mean Kendall tau between the standalone seeds' rankings, taken pairwise: how far the
    ground truth agrees with itself, the ceiling for any ranker's tau against one seed."""
    n = min(len(r["standalone_accuracies"]) for r in rows) if rows else 0
    taus = [kendall([r["standalone_accuracies"][i] for r in rows], [r["standalone_accuracies"][j] for r in rows])[0]
            for i in range(n) for j in range(i + 1, n)]
    taus = [t for t in taus if t is not None]
    return round(float(np.mean(taus)), 4) if taus else None


def rank_check(oneshot, trials: list, family: str, ds, k: int, epochs: int, seed: int, device, out: Path,
               log: Callable[[str], None] = lambda m: None, progress=None, seeds: int = 1) -> dict[str, Any]:
    """Train k diverse feasible candidates standalone (from scratch, `epochs`, the supernet's
    training split, `seeds` seeds each: their mean test accuracy is the ground truth), compare
    it with their supernet score; write out/supernet.json."""
    rows = []
    chosen = pick_diverse(trials, k)
    for i, t in enumerate(chosen):
        spec = spec_from_dict(t.user_attrs["spec"])
        accs, secs = [], 0.0
        for j in range(seeds):
            log(f"tau check: training candidate {i + 1}/{len(chosen)} (trial {t.number}) standalone, {epochs} epochs"
                + (f", seed {j + 1}/{seeds}" if seeds > 1 else ""))
            model, s = train_standalone(spec, oneshot.splits.x_train, oneshot.splits.y_train, ds.name, ds.kind,
                                        recipe(family, epochs, seed + j * TAU_SEED_STRIDE), device, progress=progress)
            accs.append(accuracy(model, ds.x_test, ds.y_test, device))
            secs += s
        rows.append({"trial": t.number, "spec": t.user_attrs["spec"], "sram_bytes": t.user_attrs["sram_bytes"],
                     "macs": t.user_attrs["macs"], "supernet_accuracy": t.values[0],
                     "standalone_accuracy": float(np.mean(accs)), "standalone_accuracies": accs,
                     "train_seconds": round(secs, 2)})
    tau, p = kendall([r["supernet_accuracy"] for r in rows], [r["standalone_accuracy"] for r in rows])
    report = {"kendall_tau": tau, "p_value": p, "candidates": rows, "standalone_epochs": epochs,
              "standalone_seeds": seeds, "retest_tau": retest_tau(rows) if seeds > 1 else None,
              "supernet": oneshot.meta, "evaluations": oneshot.evaluations,
              "evaluations_per_second": oneshot.rate(),
              "note": "supernet_accuracy: inherited weights on the validation split held out of the training "
                      "set; standalone_accuracy: trained from scratch on the supernet's training split, the mean "
                      "test accuracy over standalone_seeds seeds; retest_tau: mean pairwise tau between those "
                      "seeds' rankings (how far the ground truth agrees with itself)"}
    write_json(out / "supernet.json", report)
    return report


def finetune_best(oneshot, best: dict[str, Any], family: str, ds, epochs: int, seed: int, device, out: Path,
                  log: Callable[[str], None] = lambda m: None, progress=None) -> dict[str, Any]:
    """Fine-tune the winner from its inherited weights on the whole training subset (validation
    included) for `epochs` (0: inherited weights as they are); save it as a run in out/final;
    return best.json's new fields."""
    from edgeformer.checkpoint import save_run
    from edgeformer.models import count_params, macs

    spec = spec_from_dict(best)
    model = oneshot.inherit(spec)
    x = np.concatenate([oneshot.splits.x_train, oneshot.splits.x_val])
    y = np.concatenate([oneshot.splits.y_train, oneshot.splits.y_val])
    secs = 0.0
    if epochs:
        log(f"final: fine-tuning trial {best['trial']} from the supernet, {epochs} epochs on {len(y)} samples")
        cfg = recipe(family, epochs, seed)
        cfg = recipe(family, epochs, seed, lr=cfg.lr * FINETUNE_LR_SCALE)
        model, secs = train_standalone(spec, x, y, ds.name, ds.kind, cfg, device, init=model, progress=progress)
    acc = accuracy(model, ds.x_test, ds.y_test, device)
    model = model.cpu().eval()
    save_run(out / "final", spec, model, {"test_accuracy": acc, "train_seconds": round(secs, 3),
                                          "params": count_params(model), "macs": macs(spec), "dataset": ds.name,
                                          "epochs": epochs, "seed": seed, "family": spec.family,
                                          "init": "supernet", "model": str(out / "best.json")}, ds.name)
    return {"accuracy": acc, "supernet_accuracy": best["accuracy"], "final_epochs": epochs,
            "final_run": str(out / "final")}
