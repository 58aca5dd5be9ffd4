"""Where `export` may write: it replaces only what it can prove it made.

Rules (never destroy what the user owns):
- `--out` that does not exist, or is an empty folder: the artifact is renamed into place.
- an existing edgeformer artifact (it has export.json): our own entries are replaced; any
  other file in it is kept.
- a non-empty folder that is not an artifact: refused (exit 2) unless `force`; with `force`
  our entries are written into it and every other file is kept.
- never: the empty path, `/`, the current directory or a folder above it, the source itself or
  a folder above the source.
The artifact is assembled in a hidden temp folder next to `--out` that carries a marker with
the writer's pid; a later export removes such folders whose writer is gone (SIGKILL leftovers).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from edgeformer.errors import UserError

ART_META = "export.json"
TMP_MARKER = ".edgeformer-export-tmp"
# What an export writes at the top of ART (checked against a --force folder before any work).
OWN_ENTRIES = ("model.onnx", "model.int8.onnx", "c", "plan.json", "plan.png", "calib.npz", ART_META)
# What later commands derive from an artifact (stale once it is replaced).
DERIVED_ENTRIES = ("build", "profile.json", "profile.png")


def is_artifact(path: Path) -> bool:
    """Proof that we made `path`: an export.json of ours (any file of that name is not enough)."""
    import json

    from edgeformer.runtime.artifact import REQUIRED_META_KEYS
    try:
        meta = json.loads((path / ART_META).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and all(k in meta for k in REQUIRED_META_KEYS)


def clashes(out: Path, names) -> list[str]:
    """The entries `names` that already exist in `out` and are not ours to replace (out is not
    an artifact of ours): a user's own c/ or model.onnx is never overwritten, even with --force."""
    if not out.is_dir() or is_artifact(out):
        return []
    return [n for n in names if (out / n).exists() or (out / n).is_symlink()]


def _refuse_clashes(out: Path, names) -> None:
    found = clashes(out, names)
    if found:
        raise UserError(f"--out {out} already holds {', '.join(found)}, which are not an edgeformer artifact's; "
                        f"move them or choose a new folder (they are never overwritten)")


def check_out(out: str | os.PathLike, sources: list[Path], force: bool) -> Path:
    """The checked --out path; raises UserError for every case that could destroy user files."""
    if out is None or str(out).strip() == "":
        raise UserError("--out is empty; give the artifact folder to create, e.g. --out art/mymodel")
    path = Path(out).expanduser()
    real = path.resolve()
    if real == Path(real.anchor):
        raise UserError(f"--out {out} is the filesystem root; give a new folder, e.g. --out art/mymodel")
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise UserError(f"--out {out} is the current folder or above it; give a new folder, e.g. --out art/mymodel")
    for src in sources:
        s = Path(src).resolve()
        if real == s or real in s.parents:
            raise UserError(f"--out {out} would overwrite the source {src}; give another folder, e.g. --out art/mymodel")
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")
    if path.is_dir() and any(path.iterdir()) and not is_artifact(path) and not force:
        raise UserError(f"--out {out} is a non-empty folder that is not an edgeformer artifact; choose a new "
                        f"folder, or pass --force to add the artifact's files to it (other files are kept)")
    _refuse_clashes(path, OWN_ENTRIES)
    return path


def make_temp(out: Path) -> Path:
    """A hidden temp folder next to `out`, marked as ours (after removing stale ones of ours)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    (tmp / TMP_MARKER).write_text(f"{os.getpid()}\n")
    return tmp


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path) -> list[Path]:
    """Remove temp folders of ours (marker present) whose writing process no longer runs."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for d in entries:
        marker = d / TMP_MARKER
        if not (d.name.startswith(".") and d.is_dir() and not d.is_symlink() and marker.is_file()):
            continue
        try:
            pid = int(marker.read_text().split()[0])
        except (ValueError, IndexError, OSError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def install(tmp: Path, out: Path) -> None:
    """Move the finished artifact in `tmp` to `out`, replacing only our own entries there."""
    from edgeformer.fsio import public_dir
    (tmp / TMP_MARKER).unlink(missing_ok=True)
    public_dir(tmp)
    if not out.exists():
        tmp.rename(out)
        return
    if not any(out.iterdir()):
        out.rmdir()
        tmp.rename(out)
        return
    names = sorted(p.name for p in tmp.iterdir())
    _refuse_clashes(out, names)   # again at the moment of writing: nothing of the user's is replaced
    stale = list(DERIVED_ENTRIES) if is_artifact(out) else []
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    (trash / TMP_MARKER).write_text("0\n")  # pid 0 never runs as ours: removed by the next clean_stale
    try:
        # export.json last: until it is replaced the folder still reads as the old artifact.
        names = sorted(names, key=lambda n: n == ART_META)
        for name in [*stale, *names]:
            old = out / name
            if old.exists() or old.is_symlink():
                old.rename(trash / name)
            if (tmp / name).exists():
                (tmp / name).rename(out / name)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
