"""A user's own dataset from an .npz file: `load_dataset("npz:PATH")`.

Required arrays: x_train, y_train, x_test, y_test; the split is used as stored.
Optional array: kind, a string "image" or "sequence".

How the kind is decided (a 3-D N x A x B array could be either, so we do not guess from
A == B):
- x 4-D (N x C x H x W): image.
- x 3-D: sequence (N x T x F), unless kind == "image", then N x H x W images that get a
  channel axis (N x 1 x H x W).
x is cast to float32 and used as stored: no scaling, no normalisation (scale images to
[0, 1] yourself if the model should see what the built-in image datasets give). Labels
must be integers >= 0; num_classes = largest label + 1.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
KINDS = ("image", "sequence")


def load_npz(path: str) -> Dataset:
    """Load and validate the arrays; every problem is a UserError naming the file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"dataset file {file} not found (from 'npz:{path}'): give the path "
                        f"of an .npz with arrays {', '.join(REQUIRED)}")
    arrays = _read(file)
    where = str(file)

    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise UserError(f"{where}: missing array(s) {', '.join(missing)}; required arrays: "
                        f"{', '.join(REQUIRED)} (optional: kind = 'image' or 'sequence'); "
                        f"found: {', '.join(sorted(arrays)) or 'none'}")
    kind = _kind(arrays.get("kind"), where)

    x = {s: _inputs(arrays[f"x_{s}"], kind, f"{where}: x_{s}") for s in ("train", "test")}
    y = {s: _labels(arrays[f"y_{s}"], len(x[s]), f"{where}: y_{s}") for s in ("train", "test")}
    if x["train"].ndim != x["test"].ndim or x["train"].shape[1:] != x["test"].shape[1:]:
        raise UserError(f"{where}: x_train samples are {x['train'].shape[1:]} but x_test samples "
                        f"are {x['test'].shape[1:]}: train and test must have the same shape")
    kind = "image" if x["train"].ndim == 4 else "sequence"

    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
    return Dataset(
        name=f"npz:{path}", kind=kind,
        x_train=x["train"], y_train=y["train"], x_test=x["test"], y_test=y["test"],
        num_classes=int(max(y["train"].max(), y["test"].max())) + 1,
        input_shape=tuple(int(d) for d in x["train"].shape[1:]),
        provenance=(f"npz file {file.resolve()} (sha256 {digest}...); split as stored; "
                    "x cast to float32, no scaling"),
    )


def _read(file: Path) -> dict[str, np.ndarray]:
    try:
        z = np.load(file, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise UserError(f"{file} holds a single array, not an .npz archive: save with "
                            f"numpy.savez(path, {', '.join(f'{k}=...' for k in REQUIRED)})")
        with z:
            return {k: z[k] for k in z.files}
    except UserError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        # ValueError also covers object (pickled) arrays, which we refuse to unpickle.
        raise UserError(f"cannot read {file} as .npz: {e}") from None


def _kind(arr: np.ndarray | None, where: str) -> str | None:
    if arr is None:
        return None
    value = str(arr.item()) if arr.ndim == 0 or arr.size == 1 else None
    if value not in KINDS:
        raise UserError(f"{where}: array 'kind' must be one of {', '.join(KINDS)}, got "
                        f"{arr.tolist()!r}")
    return value


def _inputs(x: np.ndarray, kind: str | None, where: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise UserError(f"{where}: dtype {x.dtype} is not numeric; want float or integer values")
    if x.ndim == 3 and kind == "image":
        x = x[:, None, :, :]  # N x H x W -> N x 1 x H x W
    elif x.ndim == 4 and kind == "sequence":
        raise UserError(f"{where}: kind is 'sequence' but shape {x.shape} is 4-D; sequences "
                        "are N x T x F")
    elif x.ndim not in (3, 4):
        raise UserError(f"{where}: shape {x.shape} is {x.ndim}-D; want N x C x H x W or "
                        "N x H x W (with kind='image') for images, N x T x F for sequences")
    if len(x) == 0:
        raise UserError(f"{where}: has no samples")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise UserError(f"{where}: {int((~np.isfinite(x)).sum())} values are NaN or infinite "
                        "(after the cast to float32)")
    return x


def _labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    if y.dtype.kind not in "iu":
        raise UserError(f"{where}: dtype {y.dtype}; labels must be integers (class ids 0..K-1)")
    if y.shape != (n,):
        raise UserError(f"{where}: shape {y.shape}, want ({n},): one label per input sample")
    if y.min() < 0:
        raise UserError(f"{where}: label {int(y.min())} is negative; labels are class ids >= 0")
    return y.astype(np.int64)
