"""A user's own dataset from an .npz file: `load_dataset("npz:PATH")`.

Required arrays: x_train, y_train, x_test, y_test; the split is used as stored.
Optional array: kind, a string "image" or "sequence".

How the kind is decided (a 3-D N x A x B array could be either, so we do not guess from
A == B):
- x 4-D (N x C x H x W): image.
- x 3-D: the `kind` array if there is one; else the way the model being trained or
  calibrated takes its input (`model_kind`: a ViT reads N x H x W images, an LMUFormer
  N x T x F sequences); else (no model given) sequence. 3-D images get a channel axis
  (N x 1 x H x W).
- x 2-D integers: N x T token ids (what a tokenizer gives a BERT or GPT-style model), read as
  N x T x 1 sequences. float32 holds every id below 2**24 exactly, and a model over token ids
  reads them back as its integer input (export/foreign_inputs.py). 2-D floats are refused.
x is cast to float32. uint8 images are scaled by 1/255, as the built-in fashion-mnist is;
anything else is used as stored (no normalisation). Labels must be integers >= 0;
num_classes = largest label + 1.

Nothing is loaded before the .npy headers inside the zip have been read: each array's
declared shape and dtype are checked (numeric, no pickled objects, the bytes the zip says it
holds, and a size limit) so that a file claiming an enormous shape is refused by name, not
by a MemoryError.
"""
from __future__ import annotations

import ast
import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
KINDS = ("image", "sequence")
ID_LIMIT = 1 << 24   # token ids at or above this are not exact in float32
_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 16
_SAVE_HINT = f"save it with numpy.savez(path, {', '.join(f'{k}=...' for k in REQUIRED)})"


def memory_limit() -> int:
    """Most bytes a dataset may take once loaded (stored arrays plus the float32 copy of x):
    half this machine's memory, at most 16 GiB."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = 8 << 30
    return int(min(16 << 30, max(256 << 20, phys // 2)))


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


@dataclass(frozen=True)
class Header:
    """One .npy member, as its header declares it (nothing loaded yet)."""

    member: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data_bytes: int


def load_npz(path: str, model_kind: str | None = None, memory_limit_bytes: int | None = None) -> Dataset:
    """Load and validate the arrays; every problem is a UserError naming the file.

    model_kind ("image" or "sequence") is how the model takes its input: it decides how a
    3-D x array is read when the file has no `kind` array.
    """
    file = Path(path).expanduser()
    _check_path(file, path)
    where = str(file)
    limit = memory_limit() if memory_limit_bytes is None else memory_limit_bytes
    with _open_zip(file) as z:
        headers = _headers(z, where)
        missing = [k for k in REQUIRED if k not in headers]
        if missing:
            raise UserError(f"{where}: missing array(s) {', '.join(missing)}; required arrays: "
                            f"{', '.join(REQUIRED)} (optional: kind = 'image' or 'sequence'); "
                            f"found: {', '.join(sorted(headers)) or 'none'}")
        _check_headers(headers, where, limit)
        arrays = {k: _read_member(z, headers[k], where) for k in (*REQUIRED, "kind") if k in headers}
    kind = _kind(arrays.get("kind"), where)
    if kind is None and arrays["x_train"].ndim == 3 and model_kind in KINDS:
        kind = model_kind

    if kind == "image" and arrays["x_train"].ndim == 2:
        raise UserError(f"{where}: kind is 'image' but x_train is 2-D {arrays['x_train'].shape}; images are "
                        "N x C x H x W or N x H x W (a 2-D integer array is read as N x T token ids)")
    ids = arrays["x_train"].ndim == 2
    scaled = kind == "image" or arrays["x_train"].ndim == 4
    scaled = scaled and arrays["x_train"].dtype == np.uint8 and arrays["x_test"].dtype == np.uint8
    x = {s: _inputs(arrays[f"x_{s}"], kind, f"{where}: x_{s}", scaled) for s in ("train", "test")}
    y = {s: _labels(arrays[f"y_{s}"], len(x[s]), f"{where}: y_{s}") for s in ("train", "test")}
    if x["train"].ndim != x["test"].ndim or x["train"].shape[1:] != x["test"].shape[1:]:
        raise UserError(f"{where}: x_train samples are {x['train'].shape[1:]} but x_test samples "
                        f"are {x['test'].shape[1:]}: train and test must have the same shape")
    kind = "image" if x["train"].ndim == 4 else "sequence"

    digest = _sha256(file)
    return Dataset(
        name=f"npz:{path}", kind=kind,
        x_train=x["train"], y_train=y["train"], x_test=x["test"], y_test=y["test"],
        num_classes=int(max(y["train"].max(), y["test"].max())) + 1,
        input_shape=tuple(int(d) for d in x["train"].shape[1:]),
        provenance=(f"npz file {file.resolve()} (sha256 {digest}...); split as stored; "
                    + ("uint8 pixels scaled by 1/255 to float32" if scaled
                       else "N x T token ids read as N x T x 1 float32 (exact)" if ids
                       else "x cast to float32, no scaling")),
    )


def _check_path(file: Path, given: str) -> None:
    if file.is_dir():
        inside = sorted(p.name for p in file.glob("*.npz"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise UserError(f"npz:{given} is a folder{hint}; give the .npz file itself, e.g. npz:{file / 'data.npz'}")
    if not file.exists():
        raise UserError(f"dataset file {file} not found (from 'npz:{given}'): give the path "
                        f"of an .npz with arrays {', '.join(REQUIRED)}")
    if not file.is_file():
        raise UserError(f"npz:{given} is not a regular file; give the path of an .npz file")


def _open_zip(file: Path) -> zipfile.ZipFile:
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
    except PermissionError:
        raise UserError(f"{file} cannot be read (permission denied); fix its permissions") from None
    except OSError as e:
        raise UserError(f"cannot read {file}: {e.strerror}") from None
    if head.startswith(_NPY_MAGIC):
        raise UserError(f"{file} holds a single array (.npy), not an .npz archive: {_SAVE_HINT}")
    if not head:
        raise UserError(f"{file} is empty, not an .npz archive: {_SAVE_HINT}")
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        if head.startswith(b"PK"):
            raise UserError(f"{file} is a damaged or truncated zip (its table of contents is missing or corrupt); "
                            f"copy it again or {_SAVE_HINT}") from None
        what = "a text file" if _looks_like_text(file) else f"a binary file starting with {head[:4].hex()}"
        raise UserError(f"{file} is not an .npz archive (a zip of .npy arrays) but {what}: {_SAVE_HINT}") from None


def _looks_like_text(file: Path) -> bool:
    with open(file, "rb") as fh:
        chunk = fh.read(512)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in chunk


def _headers(z: zipfile.ZipFile, where: str) -> dict[str, Header]:
    out: dict[str, Header] = {}
    for info in z.infolist():
        if not info.filename.endswith(".npy") or info.is_dir():
            continue
        name = info.filename[:-4]
        try:
            with z.open(info) as fp:
                shape, dtype, header_len = _read_header(fp)
        except (ValueError, SyntaxError, TypeError, KeyError, zipfile.BadZipFile, zlib.error, EOFError,
                OSError, NotImplementedError, RuntimeError) as e:
            raise UserError(f"{where}: array {name} has a corrupt .npy header ({type(e).__name__}); {_SAVE_HINT}"
                            ) from None
        if dtype.hasobject:
            raise UserError(f"{where}: array {name} holds Python objects (dtype {dtype}), which edgeformer does "
                            "not unpickle; store numeric arrays (and kind as a plain string array)")
        count = int(np.prod(shape, dtype=object)) if shape else 1
        data_bytes = count * dtype.itemsize
        if info.file_size != header_len + data_bytes:
            raise UserError(f"{where}: array {name} declares shape {shape} {dtype} ({data_bytes:,} B) but the file "
                            f"holds {max(0, info.file_size - header_len):,} B: it is corrupt or truncated; "
                            f"{_SAVE_HINT}")
        out[name] = Header(name, shape, dtype, data_bytes)
    return out


def _read_header(fp) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length in bytes) of an .npy stream; reads only the header."""
    magic = fp.read(8)
    if len(magic) < 8 or not magic.startswith(_NPY_MAGIC):
        raise ValueError("not an .npy stream")
    major = magic[6]
    size_bytes = 2 if major == 1 else 4
    raw = fp.read(size_bytes)
    if len(raw) < size_bytes:
        raise ValueError("truncated header")
    hlen = int.from_bytes(raw, "little")
    if hlen > _MAX_HEADER:
        raise ValueError("header too long")
    text = fp.read(hlen)
    if len(text) < hlen:
        raise ValueError("truncated header")
    d = ast.literal_eval(text.decode("utf-8" if major >= 3 else "latin1"))
    if not isinstance(d, dict) or not isinstance(d.get("shape"), tuple):
        raise ValueError("header is not a dict with a shape")
    shape = d["shape"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError("shape holds negative or non-integer sizes")
    dtype = np.lib.format.descr_to_dtype(d["descr"])
    return shape, dtype, 8 + size_bytes + hlen


def _check_headers(headers: dict[str, Header], where: str, limit: int) -> None:
    """Declared dtypes and sizes, before any data is read."""
    for k in ("x_train", "x_test"):
        h = headers[k]
        if h.dtype.kind not in "biuf":
            raise UserError(f"{where}: {k}: dtype {h.dtype} is not numeric; want float or integer values")
    for k in ("y_train", "y_test"):
        h = headers[k]
        if h.dtype.kind not in "iu":
            raise UserError(f"{where}: {k}: dtype {h.dtype}; labels must be integers (class ids 0..K-1)")
    if "kind" in headers and headers["kind"].data_bytes > 1024:
        raise UserError(f"{where}: array 'kind' must be one string, image or sequence; it declares shape "
                        f"{headers['kind'].shape}")
    # Stored arrays plus the float32 copy of x that training uses.
    need = sum(h.data_bytes for h in headers.values() if h.member in (*REQUIRED, "kind"))
    need += sum((h.data_bytes // max(1, h.dtype.itemsize)) * 4 for k, h in headers.items() if k in ("x_train", "x_test"))
    if need > limit:
        big = max((headers[k] for k in REQUIRED), key=lambda h: h.data_bytes)
        raise UserError(f"{where}: the arrays declare {_gib(need)} once loaded ({big.member} alone: shape "
                        f"{big.shape} {big.dtype}), over the {_gib(limit)} this machine allows for a dataset; "
                        "use fewer or smaller samples")


def _read_member(z: zipfile.ZipFile, h: Header, where: str) -> np.ndarray:
    try:
        with z.open(f"{h.member}.npy") as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(f"{where}: array {h.member} cannot be read ({first}): the file is corrupt; "
                        f"{_SAVE_HINT}") from None


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _kind(arr: np.ndarray | None, where: str) -> str | None:
    if arr is None:
        return None
    value = str(arr.item()) if arr.ndim == 0 or arr.size == 1 else None
    if value not in KINDS:
        raise UserError(f"{where}: array 'kind' must be one of {', '.join(KINDS)}, got "
                        f"{arr.tolist()!r}")
    return value


def _inputs(x: np.ndarray, kind: str | None, where: str, scaled: bool) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise UserError(f"{where}: dtype {x.dtype} is not numeric; want float or integer values")
    if x.ndim == 2 and x.dtype.kind in "biu":
        big = int(np.abs(x.astype(np.int64)).max()) if x.size else 0
        if big >= ID_LIMIT:
            raise UserError(f"{where}: token id {big} is {ID_LIMIT:,} or more, beyond what float32 holds exactly; "
                            "ids of a vocabulary that large are not supported")
        x = x[:, :, None]  # N x T token ids -> N x T x 1 sequences
    elif x.ndim == 3 and kind == "image":
        x = x[:, None, :, :]  # N x H x W -> N x 1 x H x W
    elif x.ndim == 4 and kind == "sequence":
        raise UserError(f"{where}: kind is 'sequence' but shape {x.shape} is 4-D; sequences "
                        "are N x T x F")
    elif x.ndim not in (3, 4):
        raise UserError(f"{where}: shape {x.shape} is {x.ndim}-D {x.dtype}; want N x C x H x W or "
                        "N x H x W for images, N x T x F for sequences, or N x T integer token ids")
    if len(x) == 0:
        raise UserError(f"{where}: has no samples")
    if scaled:
        return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0)
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
