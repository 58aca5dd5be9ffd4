"""Standalone training on a chosen device, from scratch or from inherited supernet weights.

The same recipe as `edgeformer.train.train_model` (AdamW, warmup + cosine LR, label
smoothing, the same augmentation and seeding; on CPU from scratch it gives the same model),
plus a device and an optional starting model: the search's tau check, its final fine-tune
and bench/search_accuracy.py train presets and winners with it, so both sides of a
comparison get one recipe. The loop itself is train.py's `fit`.
"""
from __future__ import annotations

import numpy as np
import torch

from edgeformer.nas.space import space
from edgeformer.train import TrainConfig, fit, seed_everything


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
    secs = fit(model, x, y, kind == "image", ds_name == "fashion-mnist", cfg, gen, device, progress)
    return model, secs


def recipe(family: str, epochs: int, seed: int, **changes) -> TrainConfig:
    """The standalone recipe per family: train.py's defaults for ViTs, bench/accuracy.py's fsdd
    settings for LMUFormers (lr 3e-3, label smoothing 0.05)."""
    base = TrainConfig(epochs=epochs, seed=seed) if space(family).arch == "vit" else \
        TrainConfig(epochs=epochs, seed=seed, lr=3e-3, label_smoothing=0.05)
    from dataclasses import replace
    return replace(base, **changes)
