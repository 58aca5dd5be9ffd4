"""The Dataset record that every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """One train/test split.

    Invariants (checked at construction): x_* are float32 with shape (N, *input_shape),
    y_* are int64 with shape (N,) and values in [0, num_classes). Images are (C, H, W)
    per sample, sequences (T, F).
    """

    name: str
    kind: Literal["image", "sequence"]
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    num_classes: int
    input_shape: tuple[int, ...]
    provenance: str

    def __post_init__(self) -> None:
        want_rank = {"image": 3, "sequence": 2}.get(self.kind)
        if want_rank is None or len(self.input_shape) != want_rank:
            raise ValueError(f"dataset {self.name}: kind {self.kind!r} with input_shape "
                             f"{self.input_shape}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.float32 or y.dtype != np.int64:
                raise ValueError(f"dataset {self.name} {split}: dtypes {x.dtype}/{y.dtype}, "
                                 "want float32/int64")
            if x.shape[1:] != self.input_shape or y.shape != (x.shape[0],):
                raise ValueError(f"dataset {self.name} {split}: x {x.shape}, y {y.shape}, "
                                 f"input_shape {self.input_shape}")
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(f"dataset {self.name} {split}: labels outside "
                                 f"[0, {self.num_classes})")

    def __str__(self) -> str:
        return (f"{self.name}: {self.kind} {self.input_shape}, {self.num_classes} classes, "
                f"{len(self.y_train)} train / {len(self.y_test)} test ({self.provenance})")
