"""Image datasets: scikit-learn digits (8x8) and Fashion-MNIST (28x28).

Both come out as N x 1 x H x W float32 in [0, 1] (digits: value/16, Fashion-MNIST:
pixel/255), no mean/std normalisation: the model sees the raw scaled pixels.
"""
from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

DIGITS_SEED = 0
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
# (images, labels) file per split, as shipped by the Debian package dataset-fashion-mnist.
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# IDX magic: two zero bytes, dtype code 0x08 (uint8), number of dimensions.
_IDX_MAGIC = {1: b"\x00\x00\x08\x01", 3: b"\x00\x00\x08\x03"}


def load_digits() -> Dataset:
    """scikit-learn's 1797 8x8 digits, stratified 80/20 split with seed 0."""
    # Imported here: scikit-learn takes a second to import and most commands never need it.
    import sklearn
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    raw = sk_load_digits()
    x = (raw.images / 16.0).astype(np.float32)[:, None, :, :]
    y = raw.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=DIGITS_SEED)
    return Dataset(
        name="digits", kind="image",
        x_train=np.ascontiguousarray(x_train), y_train=y_train,
        x_test=np.ascontiguousarray(x_test), y_test=y_test,
        num_classes=10, input_shape=(1, 8, 8),
        provenance=(f"scikit-learn {sklearn.__version__} load_digits ({len(y)} images, "
                    f"values 0..16 scaled by 1/16); stratified 80/20 split, "
                    f"train_test_split(random_state={DIGITS_SEED})"),
    )


def load_fashion_mnist(root: Path = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST from the Debian package's IDX files, official 60000/10000 split."""
    xs, ys = {}, {}
    for split in ("train", "test"):
        images, labels = _read_split(Path(root), split)
        # Scale a fresh float copy per call; the cached uint8 arrays stay untouched.
        xs[split] = (images.astype(np.float32) / 255.0)[:, None, :, :]
        ys[split] = labels.astype(np.int64)
    return Dataset(
        name="fashion-mnist", kind="image",
        x_train=xs["train"], y_train=ys["train"], x_test=xs["test"], y_test=ys["test"],
        num_classes=10, input_shape=(1, 28, 28),
        provenance=(f"Fashion-MNIST IDX files in {root} (Debian package "
                    "dataset-fashion-mnist); official 60000/10000 train/test split; "
                    "pixels scaled by 1/255"),
    )


@functools.lru_cache(maxsize=4)
def _read_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decoded (images N x 28 x 28 uint8, labels N uint8); cached: gunzip takes ~1 s."""
    image_file, label_file = (root / f for f in _FASHION_FILES[split])
    for f in (image_file, label_file):
        if not f.is_file():
            raise UserError(f"fashion-mnist not found under {root} ({f.name} missing): install "
                            "the Debian package dataset-fashion-mnist "
                            "(apt-get install dataset-fashion-mnist)")
    images, labels = _read_idx(image_file, 3), _read_idx(label_file, 1)
    if len(images) != len(labels):
        raise UserError(f"{image_file} has {len(images)} images but {label_file} has "
                        f"{len(labels)} labels: reinstall dataset-fashion-mnist")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of uint8 (magic, ndim big-endian uint32 sizes, data)."""
    try:
        with gzip.open(path, "rb") as f:
            blob = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read {path}: {e}; reinstall dataset-fashion-mnist") from None
    header = 4 + 4 * ndim
    if blob[:4] != _IDX_MAGIC[ndim] or len(blob) < header:
        raise UserError(f"{path} is not a {ndim}-D uint8 IDX file (magic {blob[:4].hex()}, "
                        f"want {_IDX_MAGIC[ndim].hex()}); reinstall dataset-fashion-mnist")
    shape = tuple(int(d) for d in np.frombuffer(blob, ">u4", count=ndim, offset=4))
    data = np.frombuffer(blob, np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes) "
                        f"but holds {data.size} bytes; reinstall dataset-fashion-mnist")
    return data.reshape(shape)
