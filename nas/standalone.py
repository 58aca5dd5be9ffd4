"""Standalone training on a chosen device, from scratch or from inherited supernet weights.

The same recipe as `edgeformer.train.train_model` (AdamW, warmup + cosine LR, label
smoothing, the same augmentation and seeding; on CPU from scratch it gives the same model),
plus a device and an optional starting model: the search's tau check, its final fine-tune
and bench/search_accuracy.py train presets and winners with it, so both sides of a
comparison get one recipe. (train.py itself has no device argument yet.)
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from edgeformer.train import TrainConfig, _augment_images, _lr_at, seed_everything


def pick_device(name: str | None = None) -> torch.device:
    """`cuda` when asked for or (name None / "auto") when available, else CPU."""
    from edgeformer.errors import UserError

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA GPU is visible to torch here; use --device cpu")
    if not name.startswith(("cuda", "cpu")):
        raise UserError(f"--device {name!r}: give cpu, cuda or auto")
    return torch.device(name)


def param_groups(named, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only, never on position tables, norms or biases (as train.py)."""
    named = list(named)
    decay = [p for n, p in named if p.ndim >= 2 and "pos" not in n]
    rest = [p for n, p in named if not (p.ndim >= 2 and "pos" not in n)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device=None, batch_size: int = 1024) -> float:
    device = device or next(model.parameters()).device
    model.to(device).eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        pred = model(torch.from_numpy(x[i:i + batch_size]).to(device)).argmax(-1).cpu().numpy()
        correct += int((pred == y[i:i + batch_size]).sum())
    return correct / max(1, len(x))


def train_standalone(spec, x: np.ndarray, y: np.ndarray, ds_name: str, kind: str, cfg: TrainConfig, device,
                     init: torch.nn.Module | None = None, progress=None) -> tuple[torch.nn.Module, float]:
    """Train `spec` (or fine-tune `init`, a model of it) on (x, y); returns (model in eval mode, seconds).

    `progress` is an optional callable(epoch, epochs, step, steps, loss).
    """
    from edgeformer.models import build

    gen = seed_everything(cfg.seed)
    model = build(spec) if init is None else init
    model.to(device)
    opt = torch.optim.AdamW(param_groups(model.named_parameters(), cfg.weight_decay), lr=cfg.lr)
    x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)
    steps = math.ceil(len(x_all) / cfg.batch_size)
    total = steps * cfg.epochs
    warmup = min(total // 2, int(cfg.warmup_epochs * steps))
    images, flip = kind == "image", ds_name == "fashion-mnist"
    t0, step = time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=gen)
        for b in range(steps):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb, yb = x_all[idx], y_all[idx]
            if images and cfg.augment:
                xb = _augment_images(xb, gen, flip)
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, total, warmup, cfg.lr)
            loss = F.cross_entropy(model(xb.to(device)), yb.to(device), label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if progress is not None:
                progress(epoch, cfg.epochs, b + 1, steps, loss.item())
    model.eval()
    return model, time.perf_counter() - t0


def recipe(family: str, epochs: int, seed: int, **changes) -> TrainConfig:
    """The standalone recipe per family: train.py's defaults for ViTs, bench/accuracy.py's fsdd
    settings for LMUFormers (lr 3e-3, label smoothing 0.05)."""
    base = TrainConfig(epochs=epochs, seed=seed) if family == "vit" else \
        TrainConfig(epochs=epochs, seed=seed, lr=3e-3, label_smoothing=0.05)
    from dataclasses import replace
    return replace(base, **changes)
