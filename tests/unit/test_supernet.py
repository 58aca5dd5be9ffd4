"""Weight-sharing supernet: every spec of the space is an exact slice; inheriting gives the same
network; training is seeded; the cache is reused; the hand-sized budget presets fit.

Data: scikit-learn digits and FSDD (edgeformer.data), specs drawn by nas.space.sample with
numpy default_rng(seed) as given in each test.
"""
import dataclasses

import numpy as np
import pytest
import torch

from edgeformer.data import load_dataset
from edgeformer.errors import UserError
from edgeformer.models import build
from edgeformer.nas.oneshot import prepare, split
from edgeformer.nas.oneshot_report import kendall, pick_diverse
from edgeformer.nas.space import ChoiceTrial, sample, space
from edgeformer.nas.supernet import Supernet, layout_for

FAMILIES = [("vit", "digits"), ("spiking-vit", "digits"), ("lmuformer", "fsdd"), ("spiking-lmuformer", "fsdd")]


@pytest.fixture(scope="module")
def data():
    return {name: load_dataset(name) for name in ("digits", "fsdd")}


def _specs(family, ds, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [sample(space(family), ds, rng, m) for m in ["largest", "smallest"] + ["random"] * n]


@pytest.mark.parametrize("family,dataset", FAMILIES)
def test_sub_state_has_exactly_build_specs_shapes(family, dataset, data):
    ds = data[dataset]
    net = Supernet(layout_for(family, ds))
    for spec in _specs(family, ds):
        want = {k: tuple(v.shape) for k, v in build(spec).state_dict().items()}
        got = net.sub_state(spec)
        assert {k: tuple(got[k].shape) for k in want} == want, spec
        assert set(got) >= set(want)   # + the LMU's fixed (non-persistent) matrices


@pytest.mark.parametrize("family,dataset", FAMILIES)
def test_inherited_model_computes_the_sub_network(family, dataset, data):
    ds = data[dataset]
    torch.manual_seed(0)
    net = Supernet(layout_for(family, ds), seed=1)
    with torch.no_grad():   # non-trivial statistics and weights, as after training
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x = torch.from_numpy(ds.x_train[:32])
    for spec in _specs(family, ds, n=6, seed=1):
        net.recalibrate(spec, [x])
        model = net.inherit(spec)
        assert set(model.state_dict()) == set(build(spec).state_dict())
        net.eval()
        with torch.no_grad():
            got, want = net(x, spec), model(x)
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), (spec, (got - want).abs().max())


def test_spec_outside_the_supernet_is_named(data):
    ds = data["digits"]
    net = Supernet(layout_for("vit", ds))
    big = dataclasses.replace(_specs("vit", ds, n=0)[0], dim=256, heads=4)
    with pytest.raises(UserError, match="dim 256 > 128"):
        net.sub_state(big)
    with pytest.raises(UserError, match="LMUFormer supernet cannot hold a vit spec"):
        Supernet(layout_for("lmuformer", data["fsdd"])).sub_state(big)
    spiking = dataclasses.replace(_specs("vit", ds, n=0)[0], spiking_mlp=True)
    with pytest.raises(UserError, match="spiking_mlp=True but the supernet was trained with spiking_mlp=False"):
        net.sub_state(spiking)


def test_choice_trial_sandwich_ends():
    rng = np.random.default_rng(0)
    t = ChoiceTrial(rng, "largest")
    assert t.suggest_categorical("dim", (8, 16, 32)) == 32
    assert ChoiceTrial(rng, "smallest").suggest_categorical("dim", (8, 16, 32)) == 8
    assert {ChoiceTrial(rng, "largest").suggest_categorical("patch_size", (1, 2, 4)) for _ in range(30)} == {1, 2, 4}


def _tiny_prepare(ds, path, family="vit"):
    return prepare(family, space(family), ds, path, epochs=1, seed=3, max_train=80, device=torch.device("cpu"))


def test_training_is_seeded_and_cached(data, tmp_path):
    ds = data["digits"]
    a = _tiny_prepare(ds, tmp_path / "a" / "supernet.pt")
    b = _tiny_prepare(ds, tmp_path / "b" / "supernet.pt")
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["weights.head__w"], Supernet(layout_for("vit", ds), seed=3).state_dict()["weights.head__w"])
    # Reused from the cache: no training (the training function must not be reached).
    import edgeformer.nas.oneshot as oneshot
    orig, oneshot.train_supernet = oneshot.train_supernet, None
    try:
        c = _tiny_prepare(ds, tmp_path / "a" / "supernet.pt")
    finally:
        oneshot.train_supernet = orig
    assert all(torch.equal(sa[k], c.net.state_dict()[k]) for k in sa)
    spec = _specs("vit", ds, n=1)[2]
    assert c.score(spec) == a.score(spec) and c.evaluations == 1


def test_lmu_candidates_are_scored_with_recalibrated_batchnorm(data, tmp_path):
    one = _tiny_prepare(data["fsdd"], tmp_path / "supernet.pt", "lmuformer")
    spec = _specs("lmuformer", data["fsdd"], n=1)[2]
    acc = one.score(spec)
    assert 0.0 <= acc <= 1.0 and one.rate() > 0
    model = one.inherit(spec)
    stats = model.state_dict()["blocks.0.bn2.running_var"]
    assert not torch.allclose(stats, torch.ones_like(stats))   # statistics of this sub-network


def test_split_holds_out_validation(data):
    s = split(data["digits"], max_train=200, seed=0)
    assert len(s.y_val) == 30 and len(s.y_train) == 170


def test_pick_diverse_and_kendall():
    class T:
        def __init__(self, n, acc, dim):
            self.number, self.values, self.user_attrs = n, (acc, 1.0), {"spec": {"dim": dim}}
    trials = [T(i, a, d) for i, (a, d) in enumerate([(0.9, 8), (0.9, 8), (0.5, 16), (0.7, 24), (0.1, 32), (0.3, 48)])]
    picked = pick_diverse(trials, 3)
    assert [t.values[0] for t in picked] == [0.9, 0.5, 0.1]
    assert kendall([0.1, 0.2, 0.3], [1, 2, 3])[0] == 1.0 and kendall([0.1], [1]) == (None, None)


@pytest.mark.parametrize("key", [("fashion-mnist", 32 * 1024), ("fashion-mnist", 64 * 1024),
                                 ("fashion-mnist", 128 * 1024), ("fsdd", 16 * 1024), ("fsdd", 32 * 1024)])
def test_budget_presets_fit_their_budget(key):
    from edgeformer.nas.memory import Budget, candidate_memory
    from edgeformer.zoo import BUDGET_FLASH, BUDGET_PRESETS, preset

    m = candidate_memory(preset(BUDGET_PRESETS[key]), Budget(key[1], BUDGET_FLASH))
    assert m["sram_bytes"] <= key[1] and m["flash_bytes"] <= BUDGET_FLASH, m


def test_pool_training_draws_only_pool_members_and_keys_the_cache(data, tmp_path, monkeypatch):
    from edgeformer.models import macs
    from edgeformer.nas.supernet_train import Sandwich, cache_key, default_config

    ds = data["digits"]
    pool = _specs("vit", ds, n=6, seed=4)[2:]   # random specs: neither end of the space
    draw = Sandwich(space("vit"), ds, np.random.default_rng(0), 2, pool)
    drawn = [s for _ in range(20) for s in draw()]
    assert set(drawn) <= set(pool) and set(drawn) == set(pool)
    assert drawn[0] == max(pool, key=macs) and drawn[1] == min(pool, key=macs)
    # Through prepare: every sub-network trained is a pool member; others are still scored.
    seen = []
    orig_forward = Supernet.forward
    monkeypatch.setattr(Supernet, "forward", lambda self, x, spec: seen.append(spec) or orig_forward(self, x, spec))
    one = prepare("vit", space("vit"), ds, tmp_path / "supernet.pt", epochs=1, seed=3, max_train=80,
                  device=torch.device("cpu"), pool=pool)
    assert seen and set(seen) <= set(pool) and one.meta["pool"] == len(pool)
    outside = _specs("vit", ds, n=0)[0]
    assert outside not in pool and 0.0 <= one.score(outside) <= 1.0
    # The pool is part of the cache key (order-free); another pool retrains.
    cfg = default_config("vit", 1, 3)
    k = lambda p: cache_key("vit", ds, 68, 12, cfg, p)
    assert k(pool) == k(list(reversed(pool))) and k(pool) != k(pool[:-1]) and k(pool) != k(None)
    import edgeformer.nas.oneshot as oneshot
    monkeypatch.setattr(oneshot, "train_supernet", None)   # reuse must not train
    prepare("vit", space("vit"), ds, tmp_path / "supernet.pt", epochs=1, seed=3, max_train=80,
            device=torch.device("cpu"), pool=list(reversed(pool)))
    with pytest.raises(TypeError):   # a different pool is stale: it would train (here: None is not callable)
        prepare("vit", space("vit"), ds, tmp_path / "supernet.pt", epochs=1, seed=3, max_train=80,
                device=torch.device("cpu"), pool=pool[:-1])


def test_fashion_mnist_space_is_wider_and_its_supernet_holds_it():
    """28x28 images get the wide axes (d up to 256, depth up to 6: past 1 MiB flash); the
    supernet layout follows the dataset's axes, digits keeps the narrow ones."""
    from edgeformer.nas.space import VIT_DEEP_DEPTHS, VIT_WIDE_DIMS, vit_axes

    fm = load_dataset("fashion-mnist")
    assert vit_axes(28) == (VIT_WIDE_DIMS, VIT_DEEP_DEPTHS) and max(vit_axes(8)[0]) == 128
    big = sample(space("vit"), fm, np.random.default_rng(0), "largest")
    assert (big.dim, big.depth, big.mlp_ratio) == (256, 6, 4.0)
    layout = layout_for("vit", fm)
    assert (layout.dim, layout.depth, layout.mlp_hidden) == (256, 6, 1024)
    net = Supernet(layout)
    for spec in _specs("vit", fm, n=1):
        want = {k: tuple(v.shape) for k, v in build(spec).state_dict().items()}
        got = net.sub_state(spec)
        assert {k: tuple(got[k].shape) for k in want} == want, spec


def test_rerank_keeps_the_top_candidate_that_fine_tunes_best_on_validation(data, tmp_path):
    import optuna

    from edgeformer.nas.oneshot_rerank import rerank_top, top_distinct

    ds = data["digits"]
    one = _tiny_prepare(ds, tmp_path / "supernet.pt")
    specs = _specs("vit", ds, n=3, seed=4)[1:]                     # small ones: cheap to fine-tune
    trials = [optuna.trial.create_trial(params={}, distributions={}, values=[one.score(s), 1.0],
                                        user_attrs={"spec": s.to_dict()}) for s in specs + specs[:1]]
    for i, t in enumerate(trials):
        t.number = i
    assert len(top_distinct(trials, 10)) == len({repr(s) for s in specs})   # a repeated spec counts once
    pick, rows = rerank_top(one, trials, 3, "vit", ds, 1, 0, torch.device("cpu"))
    assert len(rows) == 3 and [r["trial"] for r in rows] == [t.number for t in top_distinct(trials, 3)]
    assert pick.number == max(rows, key=lambda r: r["val_accuracy"])["trial"]
    assert all(0.0 <= r["val_accuracy"] <= 1.0 for r in rows)
    # A warm start outside the top k is fine-tuned too (once, even when it is also in the top).
    worst = min(trials, key=lambda t: t.values[0])
    _, rows = rerank_top(one, trials, 1, "vit", ds, 1, 0, torch.device("cpu"), include=[worst, top_distinct(trials, 1)[0]])
    assert [r["trial"] for r in rows] == [top_distinct(trials, 1)[0].number, worst.number]
