"""The supernet inside a search: data splits, train-or-load, cheap candidate evaluation.

Candidates are scored on a validation split held out of the training set (the supernet
never trains on it); the test split is kept for the standalone accuracies reported after
the study (final fine-tune, Kendall tau check, see oneshot_report.py), so the search does
not select on the numbers it reports.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from edgeformer.fsio import write_atomic
from edgeformer.nas.supernet import Supernet, layout_for
from edgeformer.nas.supernet_store import SupernetStore
from edgeformer.nas.supernet_train import cache_key, default_config, load_cached, save, train_supernet

VAL_FRACTION, VAL_MAX = 0.15, 2000   # validation split: 15% of the training samples, at most 2000
CALIB_BATCHES, CALIB_BATCH = 2, 64    # BatchNorm recalibration per candidate: 128 samples (4,096 frames of fsdd)


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def split(ds, max_train: int | None, seed: int) -> Splits:
    """Seeded: at most `max_train` training samples, of which VAL_FRACTION (<= VAL_MAX) are held out."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(ds.x_train))
    if max_train:
        idx = idx[:max_train]
    n_val = max(1, min(VAL_MAX, int(round(VAL_FRACTION * len(idx)))))
    tr, va = np.sort(idx[n_val:]), np.sort(idx[:n_val])
    return Splits(ds.x_train[tr], ds.y_train[tr], ds.x_train[va], ds.y_train[va])


@dataclass
class OneShot:
    """A trained supernet and what scoring a candidate needs; thread-safe (one evaluation at a time)."""

    net: Supernet
    splits: Splits
    calib: list[torch.Tensor]
    meta: dict[str, Any]
    evaluations: int = 0
    eval_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def score(self, spec) -> float:
        """Inherited-weight accuracy on the validation split (BatchNorm recalibrated first)."""
        with self._lock:
            t0 = time.perf_counter()
            self.net.recalibrate(spec, self.calib)
            acc = self.net.accuracy(spec, self.splits.x_val, self.splits.y_val)
            self.eval_seconds += time.perf_counter() - t0
            self.evaluations += 1
            return acc

    def inherit(self, spec) -> torch.nn.Module:
        with self._lock:
            self.net.recalibrate(spec, self.calib)
            return self.net.inherit(spec)

    def rate(self) -> float | None:
        return round(self.evaluations / self.eval_seconds, 2) if self.eval_seconds else None


def _train(family: str, sp, ds, path: Path, key: dict[str, Any], net, splits, cfg, epochs: int, device,
           log: Callable[[str], None], progress, pool: list | None) -> dict[str, Any]:
    """Train `net` over the space (or the pool), cache it at `path`; its metadata."""
    if path.exists():
        log(f"supernet: {path} was trained with other settings or code; training it again")
    over = "the whole space" if pool is None else f"a pool of {len(set(pool))} feasible specs"
    log(f"supernet: training {family} over {over}, {epochs} epochs on {len(splits.y_train)} samples ({device})")
    seconds = train_supernet(net, sp, ds, splits.x_train, splits.y_train, cfg, device, progress, pool)
    meta = {"train_seconds": round(seconds, 2), "device": str(device), "epochs": epochs,
            "pool": None if pool is None else len(set(pool))}
    save(path, key, net, meta)
    return meta


def prepare(family: str, sp, ds, path: Path, epochs: int, seed: int, max_train: int | None, device,
            log: Callable[[str], None] = lambda m: None,
            progress: Callable[[int, int, int, int, float], None] | None = None,
            pool: list | None = None, shared: SupernetStore | None = None, distill: bool = False) -> OneShot:
    """Load the supernet cached at `path` if it was trained with these settings, else train and cache it.

    `pool`: the feasible (within-budget) specs; when given the supernet trains only those
    (nas/supernet_train.py `Sandwich`), else the whole space. Any spec of the space can be scored.
    `shared`: a distributed study's store (nas/supernet_store.py): one worker trains, the
    others load what it stored, so that every worker scores with the same weights.
    """
    splits = split(ds, max_train, seed)
    cfg = default_config(family, epochs, seed, distill)
    key = cache_key(family, ds, len(splits.y_train), len(splits.y_val), cfg, pool)
    net = Supernet(layout_for(family, ds), seed=seed)
    meta = load_cached(path, key, net)
    if meta is not None:
        log(f"supernet: reusing {path} (trained {meta.get('train_seconds', '?')} s on {meta.get('device', '?')})")
    if shared is None:
        if meta is None:
            meta = _train(family, sp, ds, path, key, net, splits, cfg, epochs, device, log, progress, pool)
    else:
        digest = shared.digest(key)
        with shared.training_lock(digest, log):
            if meta is None and (got := shared.fetch(digest)) is not None:
                write_atomic(path, lambda fh: fh.write(got), mode="wb")
                meta = load_cached(path, key, net)
                if meta is not None:
                    log(f"supernet: loaded from the study database (trained {meta.get('train_seconds', '?')} s "
                        f"on {meta.get('device', '?')} by another worker)")
            if meta is None:
                meta = _train(family, sp, ds, path, key, net, splits, cfg, epochs, device, log, progress, pool)
                shared.put(digest, path.read_bytes())
            elif not shared.has(digest):   # trained here before: the other workers get this one
                shared.put(digest, path.read_bytes())
    net.to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(splits.y_train), generator=gen)[:CALIB_BATCHES * CALIB_BATCH].numpy()
    calib = [torch.from_numpy(splits.x_train[np.sort(order[i:i + CALIB_BATCH])]).to(device)
             for i in range(0, len(order), CALIB_BATCH)]
    return OneShot(net, splits, calib, {**meta, "path": str(path), "val_samples": len(splits.y_val),
                                        "train_samples": len(splits.y_train)})
