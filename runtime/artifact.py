"""An export artifact, opened and checked once: what build, run, profile, verify and reference read.

Every file a later command needs is checked here, so a half-deleted or hand-edited ART gets
one line naming the file and the fix (exit 2), not a traceback from deep inside a command.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeformer.errors import UserError

META = "export.json"
REQUIRED_META_KEYS = ("quantize", "reference", "source")
C_FILES = ("model.h", "model.c", "weights.h", "weights.c")


def _reexport(art: Path) -> str:
    return f"re-export it into a new folder (edgeformer export ... --out {art}-new)"


def _read_json(path: Path, art: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is corrupt ({type(e).__name__}); {_reexport(art)}") from None
    except OSError as e:
        raise UserError(f"{path} cannot be read ({e.strerror}); check its permissions") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path} is corrupt (not a JSON object); {_reexport(art)}")
    return obj


@dataclass(frozen=True)
class Artifact:
    path: Path
    meta: dict[str, Any]
    plan: dict[str, Any]

    @property
    def reference(self) -> Path:
        return self.path / self.meta["reference"]

    @property
    def c_dir(self) -> Path:
        return self.path / "c"


def open_artifact(art: str | Path) -> Artifact:
    art = Path(art)
    if not art.is_dir():
        what = "is a file" if art.exists() else "does not exist"
        raise UserError(f"artifact {art} {what}; create one with `edgeformer export ... --out NEW_FOLDER`")
    if not (art / META).is_file():
        raise UserError(f"{art} is not an export artifact (no {META}); export a model into a new folder with "
                        f"`edgeformer export ... --out NEW_FOLDER`")
    meta = _read_json(art / META, art)
    missing = [k for k in REQUIRED_META_KEYS if k not in meta]
    if missing or meta.get("quantize") not in ("int8", "float32") or not isinstance(meta.get("reference"), str) \
            or Path(meta["reference"]).name != meta["reference"]:
        raise UserError(f"{art / META} is corrupt (bad or missing {', '.join(missing) or 'quantize/reference'}); "
                        f"{_reexport(art)}")
    needed = [meta["reference"], "plan.json", *(f"c/{f}" for f in C_FILES)]
    for rel in needed:
        if not (art / rel).is_file():
            raise UserError(f"{art / rel} is missing; the artifact is incomplete: {_reexport(art)}")
    plan = _read_json(art / "plan.json", art)
    for key in ("arena_bytes", "weights_bytes"):
        if not isinstance(plan.get(key), int) or plan[key] < 0:
            raise UserError(f"{art / 'plan.json'} is corrupt (bad {key}); {_reexport(art)}")
    return Artifact(art, meta, plan)
