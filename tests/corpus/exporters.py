"""Export a corpus case as a user would: torch.onnx.export at its default settings, with either
of torch's exporters (dynamo=True, the default since torch 2.9, or the legacy TorchScript one),
and write a calibration/test npz of the case's kind.

The dynamo exporter writes big weights to `model.onnx.data` next to the model; that is left as
it is (the importer must cope). Only input and output names are given, as the torch docs show.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from tests.corpus.models import Case

EXPORTERS = ("dynamo", "legacy")


def export(case: Case, out: Path, exporter: str = "dynamo") -> Path:
    """Write `case` to `out` (a .onnx path) with the named exporter; returns the path."""
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}; known: {', '.join(EXPORTERS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_logs():
        warnings.simplefilter("ignore")
        torch.onnx.export(case.module, case.inputs, str(out), input_names=list(case.input_names),
                          output_names=list(case.output_names), dynamo=exporter == "dynamo")
    return out


@contextlib.contextmanager
def _quiet_logs():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def samples(case: Case, n: int, seed: int) -> np.ndarray:
    """n inputs shaped like the case's first input (batch axis dropped), as an npz stores them.

    Token ids are stored N x T integers, as a tokenizer gives them (the npz loader reads a
    2-D integer array as token ids); the importer feeds them back as the model's int64 ids.
    """
    rng = np.random.default_rng(seed)
    shape = tuple(case.inputs[0].shape[1:])
    if case.kind == "tokens":
        return rng.integers(0, case.vocab, size=(n, *shape)).astype(np.int64)
    return rng.standard_normal((n, *shape)).astype(np.float32)


def write_npz(case: Case, path: Path, n_train: int = 32, n_test: int = 16, seed: int = 0) -> Path:
    """x_train/y_train/x_test/y_test of the case's input kind; labels are 0 (unused by verify)."""
    x_train, x_test = samples(case, n_train, seed), samples(case, n_test, seed + 1)
    if x_train.ndim == 2 and x_train.dtype.kind == "f":   # raw audio (N x T): the npz format's N x T x 1
        x_train, x_test = x_train[..., None], x_test[..., None]
    kw = dict(x_train=x_train, y_train=np.zeros(n_train, np.int64), x_test=x_test, y_test=np.zeros(n_test, np.int64))
    if x_train.ndim == 4 or case.kind == "image":
        kw["kind"] = np.asarray("image")
    elif x_train.ndim == 3:
        kw["kind"] = np.asarray("sequence")
    np.savez(path, **kw)
    return Path(path)
