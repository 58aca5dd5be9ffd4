"""Run directories: spec.json, model.pt, metrics.json (each written atomically)."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import torch

from edgeformer import __version__
from edgeformer.errors import UserError
from edgeformer.fsio import write_atomic, write_json
from edgeformer.specs import Spec, spec_from_dict


def prepare_run_dir(run: str | Path, force: bool) -> Path:
    """Check that `run` can become a run directory; nothing is created yet (save_run does),
    so a failed or interrupted training leaves no folder behind.

    Refused: an empty path, `/`, the current directory or one of its parents, a file, a path
    under a file, a folder that cannot be written, and a non-empty folder unless forced
    (then only spec.json, model.pt and metrics.json are replaced; other files stay)."""
    if str(run).strip() == "":
        raise UserError("--out is empty (an unset shell variable?); give the run folder to create, e.g. --out runs/r1")
    run = Path(run).expanduser()
    resolved = run.resolve()
    cwd = Path.cwd().resolve()
    if resolved == Path(resolved.anchor) or resolved == cwd or resolved in cwd.parents:
        raise UserError(f"--out {run} is {'/' if resolved == Path(resolved.anchor) else 'the current folder or one of its parents'}; "
                        "give a new folder for the run, e.g. --out runs/r1")
    if run.exists() and not run.is_dir():
        raise UserError(f"run directory {run} is a file; pass a directory path")
    if run.is_dir() and any(run.iterdir()) and not force:
        raise UserError(f"run directory {run} is not empty; pass --force to overwrite it or choose another --out")
    check_creatable(run)
    return run


def check_creatable(folder: Path, flag: str = "--out") -> None:
    """`folder` exists or can be made: its nearest existing ancestor is a folder we can write
    into (tried with a temp folder, removed at once: access() says yes to root on /proc)."""
    import tempfile

    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UserError(f"{flag} {folder}: {existing} is a file, so the folder cannot be created under it; "
                        f"choose another {flag}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".edgeformer-probe-", dir=existing))
    except OSError as e:
        why = e.strerror.lower() if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT) \
            else "no folder can be created there"
        raise UserError(f"{flag} {folder}: {existing} cannot be written ({why}); choose another {flag}") from None


def save_run(run: Path, spec: Spec, model: torch.nn.Module, metrics: dict[str, Any], dataset: str) -> None:
    blob = {"format": "edgeformer-run/1", "version": __version__, "spec": spec.to_dict(),
            "dataset": dataset, "state_dict": model.state_dict()}
    Path(run).mkdir(parents=True, exist_ok=True)
    write_atomic(run / "model.pt", lambda fh: torch.save(blob, fh), mode="wb")
    write_json(run / "spec.json", spec.to_dict())
    write_json(run / "metrics.json", metrics)


def load_run(run: str | Path) -> tuple[Spec, torch.nn.Module, dict[str, Any]]:
    """Load a run's spec and model (eval mode) and its metrics; every failure names the file and the fix."""
    from edgeformer.models import build

    run = Path(run)
    if not run.is_dir():
        what = "is a file" if run.exists() else "does not exist"
        raise UserError(f"run directory {run} {what}; give the folder `edgeformer train --out RUN` made")
    missing = [n for n in ("spec.json", "model.pt") if not (run / n).is_file()]
    if missing and (run / "export.json").is_file():
        raise UserError(f"{run} is an export artifact, not a training run{_exported_from(run)}; pass the run "
                        f"folder it was exported from, or check the artifact with `edgeformer verify {run} --target host`")
    if len(missing) == 2:
        raise UserError(f"{run} is not a training run (no spec.json or model.pt); give the folder "
                        "`edgeformer train --out RUN` made")
    if missing:
        raise UserError(f"{run / missing[0]} is missing; the run is incomplete: train it again with "
                        f"`edgeformer train ... --out {run} --force`")
    try:
        spec = spec_from_dict(json.loads((run / "spec.json").read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{run / 'spec.json'} is not valid JSON ({type(e).__name__}); restore it, or train the "
                        "run again") from None
    except UserError as e:
        raise UserError(f"{run / 'spec.json'}: {e}") from None
    try:
        blob = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    except PermissionError:
        raise
    except Exception as e:  # torch raises many kinds for a corrupt file
        raise UserError(f"{run / 'model.pt'} is corrupt or not an edgeformer checkpoint ({type(e).__name__}); train the run again") from None
    if not isinstance(blob, dict) or blob.get("format") != "edgeformer-run/1":
        raise UserError(f"{run / 'model.pt'} is not an edgeformer checkpoint; train the run again")
    if blob.get("spec") != spec.to_dict():
        raise UserError(f"{run / 'model.pt'} was trained for another spec than {run / 'spec.json'}; restore spec.json or train again")
    if not isinstance(blob.get("state_dict"), dict):
        raise UserError(f"{run / 'model.pt'} holds no weights (state_dict); train the run again")
    model = build(spec)
    try:
        model.load_state_dict(blob["state_dict"])
    except Exception as e:  # shape mismatches (RuntimeError), odd values (TypeError, AttributeError)
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{run / 'model.pt'} does not match its spec ({first[:200]}); train the run again") from None
    model.eval()
    metrics = {}
    if (run / "metrics.json").is_file():
        try:
            metrics = json.loads((run / "metrics.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            metrics = {}
        if not isinstance(metrics, dict):
            metrics = {}
    metrics.setdefault("dataset", blob.get("dataset"))
    return spec, model, metrics


def _exported_from(art: Path) -> str:
    """' (exported from LABEL)' read from an artifact's export.json, or '' when unreadable."""
    try:
        source = json.loads((art / "export.json").read_text()).get("source") or {}
        label = source.get("label") if isinstance(source, dict) else None
    except (OSError, ValueError, AttributeError):
        return ""
    return f" (exported from {label})" if label else ""
