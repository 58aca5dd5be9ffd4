"""Training a supernet once over its whole space, and caching it (supernet.pt).

Sandwich rule (BigNAS / OFA): every step trains the largest and the smallest sub-network of
the space plus `random_nets` random ones, gradients summed, one optimiser step. With
in-place distillation the largest learns from the labels and the others from its (detached)
predictions, which is what keeps small sub-networks' ranking meaningful. Sub-networks are
drawn by the space's own `suggest` code (nas/space.py `sample`), so the supernet trains
exactly what the search asks. Seeded: the same config gives the same weights.

Budget-aware training (MCUFormer shrinks the space to the budget first): given a `pool` of
feasible specs, every draw comes from the pool instead (its largest and smallest by MACs,
random members), so no step is spent on sub-networks the search can never pick. Specs
outside the pool stay evaluable: they are slices of the same tensors. Measured at loose
budgets (digits 48 KiB, fsdd 16 KiB: nearly the whole space fits), 8 candidates, 4 seeds,
10 epochs: Kendall tau is not better than over the whole space (digits 0.27 vs 0.49 mean,
fsdd 0.54 vs 0.65; seed-to-seed spread +-0.4), so a pool is a budget filter, not a ranking fix.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from edgeformer.fsio import write_atomic
from edgeformer.nas.space import space
from edgeformer.train import TrainConfig, batches, param_groups, seed_everything

FORMAT = "edgeformer-supernet/1"
_SOURCES = ("nas/supernet.py", "nas/supernet_vit.py", "nas/supernet_lmu.py", "nas/supernet_train.py", "nas/space.py",
            "edgeformer/models/vit.py", "edgeformer/models/lmuformer.py", "edgeformer/models/lmu.py",
            "edgeformer/models/lif.py")


@dataclass(frozen=True)
class SupernetConfig(TrainConfig):
    """train.py's schedule and optimiser settings, plus how sub-networks are drawn."""

    epochs: int = 10
    random_nets: int = 1          # sandwich: largest + smallest + this many random sub-networks per step
    distill: bool = False         # in-place distillation from the largest (BigNAS); off: labels for all (better in short trainings)


def default_config(family: str, epochs: int, seed: int, distill: bool = False) -> SupernetConfig:
    """ViT: train.py's defaults; LMUFormer: bench/accuracy.py's fsdd recipe (lr 3e-3, smoothing 0.05)."""
    if space(family).arch == "vit":
        return SupernetConfig(epochs=epochs, seed=seed, distill=distill)
    return SupernetConfig(epochs=epochs, seed=seed, lr=3e-3, label_smoothing=0.05, distill=distill)


def code_hash() -> str:
    """Of the code that defines the supernet and the models: a cached supernet from older code is stale."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _SOURCES:
        p = root / rel
        h.update(rel.encode() + (p.read_bytes() if p.is_file() else b""))
    return h.hexdigest()[:16]


class Sandwich:
    """The sub-networks one training step trains: largest, smallest, then `random_nets` random.

    Over the whole space (`pool` None): drawn by the space's `suggest` code (nas/space.py
    `sample`). Over a pool: its largest and smallest by MACs and uniform random members, so
    every draw is a member of the pool.
    """

    def __init__(self, sp, ds, rng: np.random.Generator, random_nets: int, pool: list | None = None) -> None:
        from edgeformer.models import macs

        if pool is not None and not pool:
            raise ValueError("an empty supernet pool: give at least one feasible spec, or None for the whole space")
        self.sp, self.ds, self.rng, self.random_nets = sp, ds, rng, random_nets
        self.pool = None if pool is None else list(dict.fromkeys(pool))  # distinct, in the given order
        if self.pool is not None:
            by_macs = sorted(self.pool, key=lambda s: (macs(s), repr(s)))
            self.largest, self.smallest = by_macs[-1], by_macs[0]

    def __call__(self) -> list:
        from edgeformer.nas.space import sample

        if self.pool is None:
            return [sample(self.sp, self.ds, self.rng, "largest"), sample(self.sp, self.ds, self.rng, "smallest")] + \
                [sample(self.sp, self.ds, self.rng) for _ in range(self.random_nets)]
        picks = self.rng.integers(len(self.pool), size=self.random_nets)
        return [self.largest, self.smallest] + [self.pool[int(i)] for i in picks]


def pool_digest(pool: list | None) -> str | None:
    """Order-free fingerprint of a pool (None: the whole space), for the cache key."""
    if pool is None:
        return None
    h = hashlib.sha256()
    for r in sorted({repr(sorted(s.to_dict().items())) for s in pool}):
        h.update(r.encode() + b"\n")
    return h.hexdigest()[:16]


def train_supernet(net, sp, ds, x: np.ndarray, y: np.ndarray, cfg: SupernetConfig, device,
                   progress: Callable[[int, int, int, int, float], None] | None = None,
                   pool: list | None = None) -> float:
    """Train `net` (a Supernet) on (x, y) over the space `sp`, or only over `pool`'s specs when
    given; returns the seconds it took."""
    gen = seed_everything(cfg.seed)
    draw = Sandwich(sp, ds, np.random.default_rng(cfg.seed + 1), cfg.random_nets, pool)  # apart from the data order
    net.to(device).train()
    opt = torch.optim.AdamW(param_groups(net.weights.named_parameters(), cfg.weight_decay), lr=cfg.lr)
    t0 = time.perf_counter()
    for epoch, b, steps, lr, xb, yb in batches(x, y, cfg, gen, ds.kind == "image", ds.name == "fashion-mnist"):
        xb, yb = xb.to(device), yb.to(device)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        teacher = None
        for i, spec in enumerate(draw()):
            logits = net(xb, spec)
            if i == 0 or not cfg.distill:
                loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
                teacher = logits.detach().softmax(-1)
            else:
                loss = F.kl_div(logits.log_softmax(-1), teacher, reduction="batchmean")
            loss.backward()
            if i == 0:
                shown = loss.item()
        torch.nn.utils.clip_grad_norm_(net.weights.parameters(), 1.0)
        opt.step()
        if progress is not None:
            progress(epoch, cfg.epochs, b + 1, steps, shown)
    return time.perf_counter() - t0


def cache_key(family: str, ds, n_train: int, n_val: int, cfg: SupernetConfig,
              pool: list | None = None) -> dict[str, Any]:
    """What a cached supernet must match to be reused (the device is not part of it); a
    supernet trained on another budget's pool is stale."""
    return {"family": family, "dataset": ds.name, "provenance": ds.provenance, "train_samples": n_train,
            "val_samples": n_val, "config": asdict(cfg), "pool": pool_digest(pool), "code": code_hash()}


def load_cached(path: Path, key: dict[str, Any], net) -> dict[str, Any] | None:
    """The cached run's metadata after loading its weights into `net`, or None (absent or stale)."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a foreign or damaged file is retrained over, never trusted
        return None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or blob.get("key") != key:
        return None
    net.load_state_dict(blob["state"])
    return blob.get("meta", {})


def save(path: Path, key: dict[str, Any], net, meta: dict[str, Any]) -> None:
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    blob = {"format": FORMAT, "key": key, "state": state, "meta": meta}
    write_atomic(path, lambda fh: torch.save(blob, fh), mode="wb")
