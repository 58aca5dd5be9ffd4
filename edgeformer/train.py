"""Training and evaluation: deterministic under a seed, AdamW + warmup/cosine LR."""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from edgeformer.errors import UserError
from edgeformer.specs import Spec


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    seed: int = 0
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    augment: bool = True


def check_compatible(spec: Spec, ds) -> None:
    """A spec and a dataset must agree on the input shape and the class count."""
    if tuple(spec.input_shape) != tuple(ds.input_shape):
        want = "x".join(map(str, spec.input_shape))
        got = "x".join(map(str, ds.input_shape))
        raise UserError(f"the model expects inputs {want} but dataset {ds.name} gives {got}; "
                        f"choose a preset or spec made for {ds.name}")
    if spec.num_classes < ds.num_classes:
        raise UserError(f"the model has {spec.num_classes} classes but dataset {ds.name} has {ds.num_classes}")


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _augment_images(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Random translation by up to H/14 pixels, optional horizontal flip.

    Images under 14 px (8x8 digits) are not shifted: a 1-pixel shift there moves an eighth
    of the glyph and costs accuracy (measured: 0.69 vs 0.90 on digits).
    """
    n, _, h, w = x.shape
    s = h // 14
    out = x
    if s > 0:
        padded = F.pad(x, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * s + 1, (n,), generator=gen)
        rows = dy[:, None] + torch.arange(h)[None, :]  # n x h
        cols = dx[:, None] + torch.arange(w)[None, :]  # n x w
        out = padded[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mask = torch.rand(n, generator=gen) < 0.5
        out = out.clone()
        out[mask] = out[mask].flip(-1)
    return out


def _lr_at(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(x[i:i + batch_size]))
        correct += int((logits.argmax(-1).numpy() == y[i:i + batch_size]).sum())
    return correct / max(1, len(x))


def param_groups(named, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only, never on position tables, norms or biases."""
    named = list(named)
    decay = [p for n, p in named if p.ndim >= 2 and "pos" not in n]
    rest = [p for n, p in named if not (p.ndim >= 2 and "pos" not in n)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def batches(x: np.ndarray, y: np.ndarray, cfg, gen: torch.Generator, images: bool, flip: bool):
    """Every step of cfg's schedule: (epoch, step in epoch, steps per epoch, lr, xb, yb), with a
    seeded shuffle per epoch, augmentation (images) and warmup + cosine learning rate. One
    schedule for standalone training, fine-tuning and the supernet (cfg: epochs, batch_size,
    lr, warmup_epochs, augment)."""
    x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)
    steps = math.ceil(len(x_all) / cfg.batch_size)
    total = steps * cfg.epochs
    warmup = min(total // 2, int(cfg.warmup_epochs * steps))
    step = 0
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x_all), generator=gen)
        for b in range(steps):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb, yb = x_all[idx], y_all[idx]
            if images and cfg.augment:
                xb = _augment_images(xb, gen, flip)
            yield epoch, b, steps, _lr_at(step, total, warmup, cfg.lr), xb, yb
            step += 1


def fit(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, images: bool, flip: bool, cfg: TrainConfig,
        gen: torch.Generator, device=None, progress=None) -> float:
    """Train `model` in place on (x, y) (on `device`, default the CPU); returns the seconds."""
    device = device or torch.device("cpu")
    model.to(device).train()
    opt = torch.optim.AdamW(param_groups(model.named_parameters(), cfg.weight_decay), lr=cfg.lr)
    t0 = time.perf_counter()
    for epoch, b, steps, lr, xb, yb in batches(x, y, cfg, gen, images, flip):
        for group in opt.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(xb.to(device)), yb.to(device), label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if progress is not None:
            progress(epoch, cfg.epochs, b + 1, steps, loss.item())
    model.eval()
    return time.perf_counter() - t0


def train_model(spec: Spec, ds, cfg: TrainConfig, progress=None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train `spec` on `ds`; returns the model (eval mode) and metrics.json's content.

    `progress` is an optional callable(epoch, epochs, step, steps, loss) for a progress bar.
    """
    from edgeformer.models import build, count_params, macs

    check_compatible(spec, ds)
    gen = seed_everything(cfg.seed)
    model = build(spec)
    train_seconds = fit(model, ds.x_train, ds.y_train, ds.kind == "image", ds.name == "fashion-mnist", cfg, gen,
                        progress=progress)
    metrics = {
        "test_accuracy": evaluate(model, ds.x_test, ds.y_test),
        "train_seconds": round(train_seconds, 3),
        "params": count_params(model),
        "macs": macs(spec),
        "dataset": ds.name,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "family": spec.family,
    }
    return model, metrics
