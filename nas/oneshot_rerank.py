"""Re-ranking the supernet's top candidates by a short standalone fine-tune (issue 15 item 3).

The supernet ranks near-equal candidates poorly on small data (Kendall tau 0.0-0.49 on
digits, 0.105 on a user's 5-class set), so its single best is a noisy pick. Each of the
top k distinct candidates by supernet score is fine-tuned from its inherited weights for a
few epochs on the supernet's training split and scored on the validation split held out of
it: never on the test split, which stays for the numbers reported afterwards.
"""
from __future__ import annotations

from typing import Any, Callable

from edgeformer.nas.oneshot_report import FINETUNE_LR_SCALE
from edgeformer.nas.standalone import accuracy, recipe, train_standalone
from edgeformer.specs import spec_from_dict


def _spec_key(t) -> str:
    return repr(sorted(t.user_attrs["spec"].items()))


def top_distinct(trials: list, k: int) -> list:
    """The k best trials by supernet score, one per spec (ties: the earlier trial)."""
    seen, out = set(), []
    for t in sorted(trials, key=lambda t: (-t.values[0], t.number)):
        key = _spec_key(t)
        if key not in seen:
            seen.add(key)
            out.append(t)
        if len(out) == k:
            break
    return out


def rerank_top(oneshot, trials: list, k: int, family: str, ds, epochs: int, seed: int, device,
               log: Callable[[str], None] = lambda m: None, progress=None,
               include: list | None = None) -> tuple[Any, list[dict]]:
    """(the trial whose fine-tuned validation accuracy is highest, one row per candidate).
    `include`: trials fine-tuned as well when outside the top k (the search's warm starts:
    models the user named compete in this round whatever the supernet scored them)."""
    rows = []
    top = top_distinct(trials, k)
    held = {_spec_key(t) for t in top}
    for t in include or []:
        key = _spec_key(t)
        if key not in held:
            held.add(key)
            top.append(t)
    for i, t in enumerate(top):
        spec = spec_from_dict(t.user_attrs["spec"])
        log(f"re-rank: fine-tuning candidate {i + 1}/{len(top)} (trial {t.number}) from the supernet, {epochs} epochs")
        cfg = recipe(family, epochs, seed)
        cfg = recipe(family, epochs, seed, lr=cfg.lr * FINETUNE_LR_SCALE)
        model, secs = train_standalone(spec, oneshot.splits.x_train, oneshot.splits.y_train, ds.name, ds.kind, cfg,
                                       device, init=oneshot.inherit(spec), progress=progress)
        rows.append({"trial": t.number, "supernet_accuracy": t.values[0], "train_seconds": round(secs, 2),
                     "val_accuracy": accuracy(model, oneshot.splits.x_val, oneshot.splits.y_val, device)})
    # Highest validation accuracy; among equals the supernet's order (rows are in that order).
    pick = max(range(len(rows)), key=lambda i: (rows[i]["val_accuracy"], -i))
    return top[pick], rows
