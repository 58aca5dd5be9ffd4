"""Training: reaches a real accuracy on real data, fast, and is deterministic under a seed."""
import dataclasses
import time

import torch

from edgeformer.data import load_dataset
from edgeformer.train import TrainConfig, train_model
from edgeformer.zoo import preset


def test_vit_digits_reaches_90_percent_in_under_a_minute():
    ds = load_dataset("digits")
    t0 = time.perf_counter()
    _, metrics = train_model(preset("vit-digits"), ds, TrainConfig(epochs=30, batch_size=64, lr=3e-3, seed=0))
    elapsed = time.perf_counter() - t0
    assert metrics["test_accuracy"] >= 0.90, metrics
    assert elapsed < 60, f"training took {elapsed:.1f} s"


def test_same_seed_same_weights_other_seed_other_weights():
    ds = load_dataset("digits")
    cfg = TrainConfig(epochs=1, batch_size=64, seed=3)
    a, _ = train_model(preset("vit-digits"), ds, cfg)
    b, _ = train_model(preset("vit-digits"), ds, cfg)
    c, _ = train_model(preset("vit-digits"), ds, TrainConfig(epochs=1, batch_size=64, seed=4))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_sequence_model_trains_on_fsdd():
    ds = load_dataset("fsdd")
    _, metrics = train_model(preset("lmuformer-tiny"), ds, TrainConfig(epochs=2, batch_size=64, lr=3e-3))
    assert metrics["test_accuracy"] > 0.3, metrics  # chance is 0.1


# --- bad inputs: learning rate, divergence, presets against datasets of another shape -------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from edgeformer.data import Dataset  # noqa: E402
from edgeformer.errors import EdgeformerError, UserError  # noqa: E402
from edgeformer.train import TrainingDiverged, adapt_preset, check_compatible, check_lr  # noqa: E402


def _ds(kind="image", shape=(1, 8, 8), classes=3, n=8, fill=None, name="npz:test.npz") -> Dataset:
    rng = np.random.default_rng(0)  # provenance: seeded uniform inputs, labels cycling 0..classes-1
    x = rng.random((n, *shape), dtype=np.float32) if fill is None else np.full((n, *shape), fill, np.float32)
    y = np.arange(n, dtype=np.int64) % classes
    return Dataset(name, kind, x, y, x[:4].copy(), y[:4].copy(), classes, shape, "test")


@pytest.mark.parametrize("lr", ["nan", "inf", "-inf", "-1", "0", "11", "abc", None])
def test_bad_learning_rates_are_user_errors(lr):
    with pytest.raises(UserError, match="--lr"):
        check_lr(lr)
    assert check_lr("2e-3") == 2e-3


def test_config_refuses_nan_lr_and_out_of_range_seed():
    with pytest.raises(UserError, match="--lr"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(UserError, match="--seed"):
        TrainConfig(seed=-1)


def test_a_diverging_run_stops_with_exit_1_and_says_so():
    ds = _ds(fill=3e38)                         # finite float32, but the first matmul overflows
    assert issubclass(TrainingDiverged, EdgeformerError) and TrainingDiverged.exit_code == 1
    with pytest.raises(TrainingDiverged, match="training diverged: the loss became nan at epoch 1/1, step 1/1"):
        train_model(preset("vit-digits"), ds, TrainConfig(epochs=1, batch_size=8), check_finite=True)


def test_preset_adapts_to_the_dataset_and_reports_what_changed():
    spec, changed = adapt_preset("vit-fmnist", preset("vit-fmnist"), _ds(shape=(1, 12, 12), classes=3))
    assert (spec.image_size, spec.num_classes, spec.patch_size) == (12, 3, 4)
    assert changed == {"image_size": (28, 12), "num_classes": (10, 3)}
    spec, changed = adapt_preset("vit-fmnist", preset("vit-fmnist"), _ds(shape=(3, 10, 10), classes=10))
    assert (spec.in_channels, spec.image_size, spec.patch_size) == (3, 10, 2)   # 4 does not divide 10
    lmu, changed = adapt_preset("lmuformer-tiny", preset("lmuformer-tiny"), _ds("sequence", (20, 6), classes=4))
    assert (lmu.seq_len, lmu.in_features, lmu.num_classes) == (20, 6, 4)
    same, changed = adapt_preset("vit-digits", preset("vit-digits"), _ds(shape=(1, 8, 8), classes=10))
    assert same == preset("vit-digits") and changed == {}


@pytest.mark.parametrize("name, ds, needle", [
    ("vit-fmnist", _ds("sequence", (20, 6)), "is an image model (ViT) but dataset npz:test.npz gives sequences 20x6"),
    ("lmuformer-tiny", _ds(), "is a sequence model (LMUFormer) but dataset npz:test.npz gives images 1x8x8"),
    ("vit-fmnist", _ds(shape=(1, 8, 6)), "takes square images"),
    ("vit-fmnist", _ds(shape=(7, 8, 8)), "'in_channels'"),
    ("vit-tiny-ref", _ds(shape=(1, 8, 8)), "fixed reference workload"),
])
def test_presets_that_cannot_take_a_dataset_say_why(name, ds, needle):
    with pytest.raises(UserError) as e:
        adapt_preset(name, preset(name), ds)
    assert needle in str(e.value)


def test_a_spec_against_another_shape_names_the_fields_to_change():
    with pytest.raises(UserError, match=r"expects inputs 3x32x32 .* gives 1x8x8; set in_channels=1, image_size=8"):
        check_compatible(preset("vit-tiny-ref"), _ds(), "spec s.json")
    with pytest.raises(UserError, match="has 2 classes but dataset .* has 3; set num_classes=3"):
        check_compatible(dataclasses.replace(preset("vit-digits"), num_classes=2), _ds(), "spec s.json")
    with pytest.raises(UserError, match="set seq_len=20, in_features=6"):
        check_compatible(preset("lmuformer-tiny"), _ds("sequence", (20, 6)), "spec s.json")
