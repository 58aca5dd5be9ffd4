"""Run directories: spec.json, model.pt, metrics.json (each written atomically)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from edgeformer import __version__
from edgeformer.errors import UserError
from edgeformer.fsio import write_atomic, write_json
from edgeformer.specs import Spec, spec_from_dict


def prepare_run_dir(run: str | Path, force: bool) -> Path:
    """Refuse to write into a non-empty run directory unless forced."""
    run = Path(run)
    if run.exists() and not run.is_dir():
        raise UserError(f"run directory {run} is a file; pass a directory path")
    if run.is_dir() and any(run.iterdir()) and not force:
        raise UserError(f"run directory {run} is not empty; pass --force to overwrite it or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    return run


def save_run(run: Path, spec: Spec, model: torch.nn.Module, metrics: dict[str, Any], dataset: str) -> None:
    blob = {"format": "edgeformer-run/1", "version": __version__, "spec": spec.to_dict(),
            "dataset": dataset, "state_dict": model.state_dict()}
    write_atomic(run / "model.pt", lambda fh: torch.save(blob, fh), mode="wb")
    write_json(run / "spec.json", spec.to_dict())
    write_json(run / "metrics.json", metrics)


def load_run(run: str | Path) -> tuple[Spec, torch.nn.Module, dict[str, Any]]:
    """Load a run's spec and model (eval mode) and its metrics; every failure names the file and the fix."""
    from edgeformer.models import build

    run = Path(run)
    if not run.is_dir():
        raise UserError(f"run directory {run} does not exist; train one with `edgeformer train --out {run}`")
    for name in ("spec.json", "model.pt"):
        if not (run / name).is_file():
            raise UserError(f"{run / name} is missing; the run is incomplete, train it again")
    try:
        spec = spec_from_dict(json.loads((run / "spec.json").read_text()))
    except json.JSONDecodeError as e:
        raise UserError(f"{run / 'spec.json'} is not valid JSON ({e}); train the run again")
    try:
        blob = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a corrupt file
        raise UserError(f"{run / 'model.pt'} is corrupt or not an edgeformer checkpoint ({type(e).__name__}); train the run again")
    if not isinstance(blob, dict) or blob.get("format") != "edgeformer-run/1":
        raise UserError(f"{run / 'model.pt'} is not an edgeformer checkpoint; train the run again")
    if blob.get("spec") != spec.to_dict():
        raise UserError(f"{run / 'model.pt'} was trained for another spec than {run / 'spec.json'}; restore spec.json or train again")
    model = build(spec)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{run / 'model.pt'} does not match its spec ({first}); train the run again")
    model.eval()
    metrics = {}
    if (run / "metrics.json").is_file():
        metrics = json.loads((run / "metrics.json").read_text())
    metrics.setdefault("dataset", blob.get("dataset"))
    return spec, model, metrics
