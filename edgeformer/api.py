"""The Python API: `edgeformer.export(module_or_onnx_path, example_inputs, ...)` -> Artifact.

For notebooks: a torch module (or an ONNX file from anywhere) goes through the same pipeline
as `edgeformer export --onnx`, and the artifact's methods are what `verify`, `build`, `run`
and `profile` call, returning the same dicts as their `--json`.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.errors import UserError

DEFAULT_BOARD = "stm32f746g-disco"


@dataclass(frozen=True)
class Artifact:
    """An exported artifact folder; `meta` is what export returned (export.json + the plan)."""

    path: Path
    meta: dict[str, Any]

    @property
    def plan(self) -> dict[str, Any]:
        return self.meta["plan"]

    def verify(self, inputs: int = 200, sanitize: bool = False) -> dict[str, Any]:
        from edgeformer.runtime.actions import verify_artifact
        return verify_artifact(self.path, inputs, sanitize)

    def build(self, board: str = DEFAULT_BOARD, image: str = "sim") -> dict[str, Any]:
        from edgeformer.runtime.actions import build_artifact
        return build_artifact(self.path, board, image)[1]

    def run(self, board: str = DEFAULT_BOARD, inputs: int = 20, timeout: float = 300.0) -> dict[str, Any]:
        from edgeformer.runtime.actions import run_artifact
        return run_artifact(self.path, board, inputs, timeout)

    def profile(self, board: str = DEFAULT_BOARD, timeout: float = 300.0) -> dict[str, Any]:
        from edgeformer.runtime.actions import profile_artifact
        return profile_artifact(self.path, board, timeout)


def export(model, example_inputs=None, *, out, quantize: str = "int8", calib=None, backend: str = "native",
           board: str | None = None, name: str | None = None, force: bool = False,
           input_names: list[str] | None = None, output_names: list[str] | None = None, log=None) -> Artifact:
    """Export a torch.nn.Module (with `example_inputs`, a tensor or tuple of tensors) or an ONNX
    path to ART=`out`.

    calib: int8 calibration (and verify) samples: a numpy array of N samples, each shaped like
    one input without its batch axis (kept in ART as calib.npz), or a dataset name such as
    "npz:PATH". Without it int8 ranges come from seeded random inputs (recorded as such).
    """
    from edgeformer.export.pipeline import export_artifact, resolve_source

    log = log or (lambda m: None)
    with tempfile.TemporaryDirectory(prefix="edgeformer-api-") as tmp:
        if isinstance(model, (str, Path)):
            onnx_path = Path(model)
        else:
            onnx_path = _torch_to_onnx(model, example_inputs, Path(tmp) / "model.onnx", input_names, output_names)
        calib_name = _calib_dataset(calib, Path(tmp))
        source = resolve_source(None, None, str(onnx_path))
        if not isinstance(model, (str, Path)):
            source.label = f"python:{type(model).__module__}.{type(model).__qualname__}"
        meta = export_artifact(out, source, quantize=quantize, backend=backend, calib_dataset=calib_name,
                               log=log, force=force, board=board, name=name, keep_dataset=calib is not None
                               and not isinstance(calib, str))
    return Artifact(Path(out), meta)


def _torch_to_onnx(module, example_inputs, path: Path, input_names, output_names) -> Path:
    import torch

    if not isinstance(module, torch.nn.Module):
        raise UserError(f"edgeformer.export takes a torch.nn.Module or an ONNX path, not {type(module).__name__}")
    if example_inputs is None:
        raise UserError("edgeformer.export(module, example_inputs): give example inputs, e.g. (torch.randn(1, 3, 32, 32),)")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    if not all(isinstance(a, torch.Tensor) for a in args):
        raise UserError("example_inputs must be a tensor or a tuple of tensors")
    module = module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # The legacy (TorchScript) exporter: static shapes, constants folded, one file. Not
            # onnx_export._torch_export: its no_grad lets nn.TransformerEncoder take its fused
            # fast path (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17, do_constant_folding=True,
                              input_names=input_names, output_names=output_names)
        except Exception as e:  # the module cannot be traced: say which and what to do
            raise UserError(f"torch.onnx.export failed for {type(module).__name__}: {str(e).splitlines()[0][:200]}; "
                            f"export it to ONNX yourself and pass the file path") from None
    return path


def _calib_dataset(calib, tmp: Path) -> str | None:
    """A dataset name for the pipeline: names pass through, arrays are written as an npz."""
    if calib is None or isinstance(calib, str):
        return calib
    x = np.asarray(calib)
    if x.ndim < 2 or x.shape[0] < 1:
        raise UserError(f"calib: an array of N samples, got shape {x.shape}")
    x = x.astype(np.float32)
    y = np.zeros(len(x), np.int64)
    path = tmp / "calib.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    return f"npz:{path}"
