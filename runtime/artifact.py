"""An export artifact, opened and checked once: what build, run, profile, verify and reference read.

Every file a later command needs is checked here, so a half-deleted or hand-edited ART gets
one line naming the file and the fix (exit 2), not a traceback from deep inside a command.
The C's signature (I/O, quantisation, state pairs, op count, C prefixes) is export.json's
`signature` (export/signature.py): nothing re-reads it from model.h, model.c or the ONNX file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from edgeformer.errors import UserError

META = "export.json"
REQUIRED_META_KEYS = ("quantize", "reference", "source")
C_FILES = ("model.h", "model.c", "weights.h", "weights.c")
SIGNATURE_KEYS = ("name", "symbol", "macro", "inputs", "outputs", "io_in_arena", "state_pairs", "ops",
                  "profile_slots")
IO_KEYS = ("index", "name", "dtype", "shape", "bytes", "in_arena")


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
    """ART as the later commands take it: export.json (`meta`), plan.json (`plan`), and the C's
    signature; the reference model's onnxruntime session is opened once, on first use."""

    path: Path
    meta: dict[str, Any]
    plan: dict[str, Any]

    @property
    def reference(self) -> Path:
        return self.path / self.meta["reference"]

    @property
    def c_dir(self) -> Path:
        return self.path / "c"

    @property
    def signature(self) -> dict[str, Any]:
        return self.meta["signature"]

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return self.signature["inputs"]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return self.signature["outputs"]

    @property
    def ops(self) -> int:
        return int(self.signature["ops"])

    @property
    def profile_slots(self) -> int:
        """The profile table's size: the ops, then the parts of the fused row loops."""
        return int(self.signature["profile_slots"])

    @property
    def streaming(self) -> bool:
        return bool(self.meta.get("streaming"))

    @property
    def int8(self) -> bool:
        return self.meta["quantize"] == "int8"

    @property
    def io_quant(self) -> dict[str, list]:
        """Per input/output its scale and zero point under `export --io-dtype int8/uint8`, else None."""
        return {kind: [{"dtype": io["dtype"], "scale": io["scale"], "zero_point": io["zero_point"]}
                       if "scale" in io else None for io in self.signature[kind]] for kind in ("inputs", "outputs")}

    @property
    def state_shapes(self) -> list[tuple[int, ...]]:
        """A streaming step's state inputs (inputs 1..), each with the model's batch-1 axis."""
        return [tuple(io["shape"]) for io in self.inputs[1:]]

    @cached_property
    def session(self):
        """onnxruntime on the reference (Q)ONNX: the numerics' one truth (export/onnx_check.session)."""
        from edgeformer.export.onnx_check import session
        return session(str(self.reference))


def open_artifact(art: str | Path | Artifact) -> Artifact:
    """ART checked and opened (an Artifact passes through as it is)."""
    if isinstance(art, Artifact):
        return art
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
    _check_signature(meta, art)
    needed = [meta["reference"], "plan.json", *(f"c/{f}" for f in C_FILES)]
    for rel in needed:
        if not (art / rel).is_file():
            raise UserError(f"{art / rel} is missing; the artifact is incomplete: {_reexport(art)}")
    plan = _read_json(art / "plan.json", art)
    for key in ("arena_bytes", "weights_bytes"):
        if not isinstance(plan.get(key), int) or plan[key] < 0:
            raise UserError(f"{art / 'plan.json'} is corrupt (bad {key}); {_reexport(art)}")
    return Artifact(art, meta, plan)


def _check_signature(meta: dict[str, Any], art: Path) -> None:
    sig = meta.get("signature")
    if not isinstance(sig, dict):
        raise UserError(f"{art / META} has no signature (the artifact predates it); re-export it: "
                        f"edgeformer export ... --out {art}-new")
    ios = [io for kind in ("inputs", "outputs") for io in (sig.get(kind) if isinstance(sig.get(kind), list) else [None])]
    if any(k not in sig for k in SIGNATURE_KEYS) or not isinstance(sig["ops"], int) \
            or not isinstance(sig["profile_slots"], int) \
            or not all(isinstance(io, dict) and all(k in io for k in IO_KEYS) for io in ios):
        raise UserError(f"{art / META} is corrupt (bad signature); {_reexport(art)}")
