"""Atomic file writes: nothing half-written is ever left behind."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call write(fh) on a temp file next to `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def public_dir(path: str | os.PathLike) -> None:
    """mkdtemp makes 0700; a folder handed to the user gets the usual mode."""
    os.chmod(path, 0o777 & ~_umask())


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_atomic(path, lambda fh: fh.write(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text))


def cache_root() -> Path:
    """The one cache root: $EDGEFORMER_CACHE, else $XDG_CACHE_HOME/edgeformer, else ~/.cache/edgeformer.
    Compiled objects (runtime/objcache.py) and the search's plan and calibration caches
    (nas/memory.py, nas/latency.py) live in folders under it."""
    explicit = os.environ.get("EDGEFORMER_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgeformer"
