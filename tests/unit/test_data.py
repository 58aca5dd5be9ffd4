"""Datasets: shapes, dtypes, ranges, fixed splits, and the npz validation errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

from edgeformer.data import DATASETS, Dataset, calibration_samples, load_dataset
from edgeformer.data import images
from edgeformer.errors import UserError


def _check(ds: Dataset, kind: str, input_shape: tuple, n_train: int, n_test: int) -> None:
    assert ds.kind == kind and ds.input_shape == input_shape and ds.num_classes == 10
    assert ds.x_train.shape == (n_train, *input_shape) and ds.x_test.shape == (n_test, *input_shape)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64
    assert set(np.unique(ds.y_train)) == set(np.unique(ds.y_test)) == set(range(10))
    assert ds.provenance


def _same(a: Dataset, b: Dataset) -> None:
    for f in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_names():
    assert DATASETS == ("digits", "fashion-mnist", "fsdd", "fashion-mnist-rows")


def test_digits():
    ds = load_dataset("digits")
    _check(ds, "image", (1, 8, 8), 1437, 360)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_test).min() >= 35  # stratified: ~36 per class
    _same(ds, load_dataset("digits"))


@pytest.mark.skipif(not (images.FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_files():
    ds = load_dataset("fashion-mnist")
    _check(ds, "image", (1, 28, 28), 60000, 10000)
    assert ds.x_test.min() == 0.0 and ds.x_test.max() == 1.0
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.y_train[:5].tolist() == [9, 0, 0, 3, 0]  # the published first labels
    again = load_dataset("fashion-mnist")
    assert again.x_train is not ds.x_train  # each load gets its own float arrays
    _same(ds, again)


def test_fashion_mnist_missing(tmp_path):
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        images.load_fashion_mnist(tmp_path)


def test_fashion_mnist_corrupt_idx(tmp_path):
    import gzip
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        with gzip.open(tmp_path / name, "wb") as f:
            f.write(b"\x00\x00\x08\x09junk")
    with pytest.raises(UserError, match="not a 3-D uint8 IDX file"):
        images.load_fashion_mnist(tmp_path)


def test_fsdd():
    ds = load_dataset("fsdd")
    _check(ds, "sequence", (32, 13), 2400, 600)
    assert np.isfinite(ds.x_train).all()
    # Standardised with train statistics over real frames; padding is zeros at the start.
    real = ds.x_train[~(ds.x_train == 0).all(-1)]
    np.testing.assert_allclose(real.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(real.std(0), 1, atol=1e-3)
    assert not (ds.x_train[:, -1] == 0).all(-1).any(), "every utterance ends at the last step"
    assert (ds.x_train[:, 0] == 0).all(-1).mean() > 0.9, "short utterances are left-padded"
    # Train and test hold different recordings.
    train = {row.tobytes() for row in ds.x_train}
    assert not any(row.tobytes() in train for row in ds.x_test)
    _same(ds, load_dataset("fsdd"))


def test_unknown_name_lists_known():
    with pytest.raises(UserError) as e:
        load_dataset("cifar")
    assert str(e.value) == ("unknown dataset 'cifar'; known datasets: digits, fashion-mnist, "
                            "fsdd, fashion-mnist-rows, npz:PATH")


def test_calibration_samples():
    ds = load_dataset("digits")
    a = calibration_samples(ds, 16)
    assert a.shape == (16, 1, 8, 8) and a.dtype == np.float32
    np.testing.assert_array_equal(a, calibration_samples(ds, 16))
    assert not np.array_equal(a, calibration_samples(ds, 16, seed=1))
    assert len(calibration_samples(ds, 10**6)) == len(ds.x_train)


# --- npz:PATH ------------------------------------------------------------------------------

def _arrays(x_shape=(6, 1, 4, 4), labels=(0, 1, 2, 0, 1, 2)) -> dict:
    rng = np.random.default_rng(0)  # provenance: fixed seed, uniform [0, 1)
    y = np.array(labels, dtype=np.int64)
    return {"x_train": rng.random(x_shape), "y_train": y,
            "x_test": rng.random((2, *x_shape[1:])), "y_test": y[:2]}


def _save(tmp_path, **arrays) -> str:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_npz_image_round_trip(tmp_path):
    arrays = _arrays()
    ds = load_dataset(_save(tmp_path, **arrays))
    assert ds.kind == "image" and ds.input_shape == (1, 4, 4) and ds.num_classes == 3
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"].astype(np.float32))
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert "sha256" in ds.provenance


def test_npz_3d_is_sequence_unless_kind_image(tmp_path):
    arrays = _arrays(x_shape=(6, 5, 3), labels=(0, 4, 0, 4, 0, 4))
    ds = load_dataset(_save(tmp_path, **arrays))
    assert ds.kind == "sequence" and ds.input_shape == (5, 3) and ds.num_classes == 5
    ds = load_dataset(_save(tmp_path, kind=np.array("image"), **arrays))
    assert ds.kind == "image" and ds.input_shape == (1, 5, 3)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("y_test"),
     re.escape("missing array(s) y_test; required arrays: x_train, y_train")),
    (lambda a: a.update(y_train=a["y_train"][:4]), r"shape \(4,\), want \(6,\)"),
    (lambda a: a.update(y_train=a["y_train"].astype(np.float32)), "labels must be integers"),
    (lambda a: a.update(y_test=np.array([0, -1])), "label -1 is negative"),
    (lambda a: a.update(x_test=np.zeros((2, 1, 5, 5))), "must have the same shape"),
    (lambda a: a.update(x_train=np.zeros((6, 16))), "is 2-D"),
    (lambda a: a.update(x_train=np.full((6, 1, 4, 4), np.nan)), "NaN or infinite"),
    (lambda a: a.update(kind=np.array("audio")), "'kind' must be one of image, sequence"),
    (lambda a: a.update(kind=np.array("sequence")), "kind is 'sequence' but shape"),
])
def test_npz_errors(tmp_path, change, message):
    arrays = _arrays()
    change(arrays)
    with pytest.raises(UserError, match=message) as e:
        load_dataset(_save(tmp_path, **arrays))
    assert str(tmp_path / "d.npz") in str(e.value)  # every message names the file


def test_npz_missing_file(tmp_path):
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / 'nope.npz'} not found")):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")


def test_npz_not_an_archive(tmp_path):
    (tmp_path / "d.npz").write_text("not numpy")
    with pytest.raises(UserError, match="not an .npz archive .* but a text file") as e:
        load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert "allow_pickle" not in str(e.value) and "numpy.savez" in str(e.value)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(UserError, match="not an .npz archive"):
        load_dataset(f"npz:{tmp_path / 'one.npy'}")


def _npz_with_header(path, shape, descr="<f4", data=b"\0" * 64):
    """A zip whose x_train.npy header declares `shape` but holds only `data` (a lying header)."""
    import zipfile
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", npy)
        for k, a in _arrays().items():
            if k != "x_train":
                with z.open(f"{k}.npy", "w") as fh:
                    np.lib.format.write_array(fh, a)


def test_npz_enormous_declared_shape_is_refused_before_loading(tmp_path):
    import tracemalloc
    _npz_with_header(tmp_path / "d.npz", (10**9, 28, 28))
    tracemalloc.start()
    with pytest.raises(UserError, match=r"x_train declares shape \(1000000000, 28, 28\).*corrupt or truncated"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert tracemalloc.get_traced_memory()[1] < 50 << 20   # peak: nothing near the declared size
    tracemalloc.stop()


def test_npz_over_the_memory_limit_names_the_array(tmp_path):
    from edgeformer.data.npz import load_npz
    arrays = _arrays(x_shape=(6, 1, 16, 16))
    np.savez_compressed(tmp_path / "d.npz", **arrays)
    with pytest.raises(UserError, match="x_train alone: shape \\(6, 1, 16, 16\\).*over the"):
        load_npz(str(tmp_path / "d.npz"), memory_limit_bytes=4096)
    assert load_npz(str(tmp_path / "d.npz")).input_shape == (1, 16, 16)


def test_npz_object_array_and_corrupt_header(tmp_path):
    arrays = _arrays()
    arrays["y_train"] = np.array([0, 1, 2, 0, 1, {"a": 1}], dtype=object)
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(UserError, match="holds Python objects") as e:
        load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert "allow_pickle" not in str(e.value)
    _npz_with_header(tmp_path / "d.npz", "not a shape")
    with pytest.raises(UserError, match="corrupt .npy header"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")


def test_npz_folder_is_named_as_a_folder(tmp_path):
    np.savez(tmp_path / "mine.npz", **_arrays())
    with pytest.raises(UserError, match="is a folder \\(it holds mine.npz\\); give the .npz file itself") as e:
        load_dataset(f"npz:{tmp_path}")
    assert "not found" not in str(e.value) and "does not exist" not in str(e.value)


def test_npz_3d_is_read_the_way_the_model_takes_it(tmp_path):
    from edgeformer.data import input_kind
    from edgeformer.zoo import preset
    rng = np.random.default_rng(0)  # provenance: seeded uint8 pixels
    arrays = {"x_train": rng.integers(0, 256, (6, 8, 8), dtype=np.uint8), "y_train": np.arange(6) % 3,
              "x_test": rng.integers(0, 256, (2, 8, 8), dtype=np.uint8), "y_test": np.array([0, 1])}
    name = _save(tmp_path, **arrays)
    ds = load_dataset(name, model=preset("vit-fmnist"))
    assert ds.kind == "image" and ds.input_shape == (1, 8, 8) and "scaled by 1/255" in ds.provenance
    np.testing.assert_allclose(ds.x_train[:, 0], arrays["x_train"] / 255.0, rtol=1e-6)
    assert ds.x_train.max() <= 1.0
    seq = load_dataset(name, model=preset("lmuformer-tiny"))
    assert seq.kind == "sequence" and seq.input_shape == (8, 8) and seq.x_train.max() > 1.0
    assert load_dataset(name).kind == "sequence"             # no model: the old default
    forced = load_dataset(_save(tmp_path, kind=np.array("sequence"), **arrays), model="vit")
    assert forced.kind == "sequence"                         # kind overrides the model
    assert (input_kind("spiking-vit"), input_kind({"family": "lmuformer"}), input_kind(None)) == \
        ("image", "sequence", None)


def test_npz_empty_name_and_npz_without_prefix(tmp_path):
    with pytest.raises(UserError, match="names no file"):
        load_dataset("npz:")
    with pytest.raises(UserError, match="npz:PATH"):
        load_dataset("data.npz")


def test_npz_damaged_inside_or_truncated(tmp_path):
    arrays = _arrays(x_shape=(50, 1, 8, 8), labels=[i % 3 for i in range(50)])
    np.savez(tmp_path / "d.npz", **arrays)
    blob = bytearray((tmp_path / "d.npz").read_bytes())
    (tmp_path / "t.npz").write_bytes(bytes(blob[: len(blob) // 2]))
    for i in range(2000, 2100):                  # inside x_train's data: the CRC no longer matches
        blob[i] ^= 0xFF
    (tmp_path / "d.npz").write_bytes(bytes(blob))
    with pytest.raises(UserError, match="array x_train cannot be read .*CRC.* the file is corrupt"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")
    with pytest.raises(UserError, match="damaged or truncated zip"):
        load_dataset(f"npz:{tmp_path / 't.npz'}")
