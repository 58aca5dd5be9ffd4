"""Training: reaches a real accuracy on real data, fast, and is deterministic under a seed."""
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
