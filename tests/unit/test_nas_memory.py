"""The search's memory model is the export planner: its figures equal plan.json's."""
import dataclasses

import optuna
import pytest
import torch

from edgeformer.data import load_dataset
from edgeformer.export.pipeline import Source, export_artifact
from edgeformer.models import build
from edgeformer.export.plan_only import lower_and_plan, qdq_model
from edgeformer.nas.memory import (PLAN_KEYS, Budget, MemoryModel, _calibration, _proto,
                                   plan_candidate, size_key)
from edgeformer.nas.space import SPACES
from edgeformer.zoo import preset

KEYS = [k for k in PLAN_KEYS if k != "io_bytes"]


def _export_plan(tmp_path, spec, dataset):
    """The normal export (real calibration data, 256 samples) of the same spec."""
    torch.manual_seed(1)  # other weights than the memory model's: sizes must not depend on them
    meta = export_artifact(tmp_path / "art", Source("preset", "candidate", spec, build(spec).eval(), dataset),
                           log=lambda m: None)
    return meta["plan"]


def _sampled_vits(n):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    ds = load_dataset("digits")
    return [SPACES["vit"].suggest(study.ask(), ds) for _ in range(n)]


@pytest.mark.parametrize("spec", [preset("vit-digits"), *_sampled_vits(2)], ids=["vit-digits", "vit-s0", "vit-s1"])
def test_vit_memory_model_equals_plan_json(tmp_path, spec):
    got, want = plan_candidate(spec), _export_plan(tmp_path, spec, "digits")
    assert {k: got[k] for k in KEYS} == {k: want[k] for k in KEYS}


def test_lmuformer_memory_model_equals_plan_json(tmp_path):
    # Exact for this preset. In general an LMUFormer plan depends on calibration scales:
    # int8_moves adds a requantising table where a Concat's inputs are quantised differently
    # (export/passes/int8_moves.py), which real data decides (measured: +-1 op, +-256 B of
    # weights, +-64 B of arena on sampled LMUFormers).
    spec = preset("lmuformer-tiny")
    got, want = plan_candidate(spec), _export_plan(tmp_path, spec, "fsdd")
    assert {k: got[k] for k in KEYS} == {k: want[k] for k in KEYS}


def test_size_neutral_fields_share_a_plan():
    base = preset("lmuformer-tiny")
    other = dataclasses.replace(base, theta=7.0, spiking=False)
    assert size_key(base) == size_key(other)
    a, b = plan_candidate(base), plan_candidate(other)
    assert {k: a[k] for k in KEYS} == {k: b[k] for k in KEYS}


def test_only_caller_held_io_counts_beside_the_arena():
    # vit-digits: its image and logits live in the arena; lmuformer-tiny's state stays with the caller.
    assert plan_candidate(preset("vit-digits"))["io_bytes"] == []
    assert plan_candidate(preset("lmuformer-tiny"))["io_bytes"]


def test_latency_features_come_from_the_plans_emission():
    # plan_candidate reads the kernels the plan's emission chose (no second emission). Zero-copy
    # aliases depend on the plan's offsets, so a graph emitted at placeholder offsets is not compared.
    from edgeformer.nas.latency import graph_totals

    spec = preset("lmuformer-tiny")
    proto, model = _proto(spec)
    low = lower_and_plan(qdq_model(proto, _calibration(spec, model)))
    assert low.emission is not None
    got = plan_candidate(spec)["latency_features"]
    assert got == graph_totals(low.graph, low.emission)
    assert got["nodes"] == low.plan["ops"]


def _sampled(family, dataset, n, seed):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    ds = load_dataset(dataset)
    return [SPACES[family].suggest(study.ask(), ds) for _ in range(n)]


# Random candidates of every space against the full export (real data, 256 calibration
# samples, C emitted): the memory model is the export planner, not an estimate of it.
SAMPLED = [(f, d, s) for f, d in (("vit", "digits"), ("spiking-vit", "digits"), ("lmuformer", "fsdd"),
                                   ("spiking-lmuformer", "fsdd"))
           for s in _sampled(f, d, 2, seed=11)]


def _requants(graph):
    """{name: bytes} of the tables int8_moves puts before a Concat of differently quantised inputs."""
    return {n.name: graph.tensors[n.outputs[0]].nbytes for n in graph.nodes if ".requant" in n.name}


@pytest.mark.parametrize("family,dataset,spec", SAMPLED, ids=[f"{f}-{i % 2}" for i, (f, _, _) in enumerate(SAMPLED)])
def test_sampled_candidates_equal_plan_json(tmp_path, family, dataset, spec):
    got, want = plan_candidate(spec), _export_plan(tmp_path, spec, dataset)
    if SPACES[family].arch == "vit":
        assert {k: got[k] for k in KEYS} == {k: want[k] for k in KEYS}
        return
    # A streaming step's Concat (causal-conv window, LMU inputs) joins a state and a fresh
    # value; whether one's calibrated range covers the other's is decided by the data and the
    # trained weights, and each uncovered input gets a 256-entry requantising table
    # (export/passes/int8_moves.py). Everything else is the export's, to the byte.
    proto, model = _proto(spec)
    mine = _requants(lower_and_plan(qdq_model(proto, _calibration(spec, model))).graph)
    theirs = _requants(lower_and_plan(tmp_path / "art" / "model.int8.onnx").graph)
    d = len(mine) - len(theirs)
    assert got["macs"] == want["macs"]
    assert (got["ops"] - want["ops"], got["weights_bytes"] - want["weights_bytes"]) == (d, 256 * d)
    slack = sum(-(-b // 16) * 16 for k, b in {**mine, **theirs}.items() if (k in mine) != (k in theirs))
    for k in ("arena_bytes", "liveness_bound_bytes"):
        assert abs(got[k] - want[k]) <= slack, (k, got[k], want[k], slack)


def test_worker_processes_plan_as_this_process(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEFORMER_CACHE", str(tmp_path))
    specs = [preset("vit-digits"), preset("lmuformer-tiny"), preset("vit-digits")]
    budget = Budget(1 << 20, 1 << 20)
    pool = MemoryModel(budget, workers=2)
    try:
        got = pool.plan_many(specs)
    finally:
        pool.close()
    assert pool.lowered == 2 and pool.hits == 1       # one shape, one lowering
    want = [plan_candidate(s) for s in specs]
    drop = lambda p: {k: v for k, v in p.items() if k != "_seconds"}  # noqa: E731
    assert [drop(p) for p in got] == [drop(p) for p in want]
    again = MemoryModel(budget)                        # a later search reads the plans from disk
    assert [drop(again.plan(s)) for s in specs] == [drop(p) for p in want] and again.lowered == 0


class _Recorder:
    """A trial that answers `params` (first choice elsewhere) and records every axis' choices."""

    def __init__(self, params):
        self.params, self.axes = params, {}

    def suggest_categorical(self, name, choices):
        self.axes[name] = tuple(choices)
        return self.params.get(name, self.axes[name][0])


@pytest.mark.parametrize("family,dataset", [("vit", "digits"), ("lmuformer", "fsdd")])
def test_the_corners_are_the_smallest_specs(family, dataset):
    """The exit-3 figures are the space's smallest: one step up any other axis from the corner
    with the least SRAM (and from the one with the least flash) never needs less."""
    from edgeformer.nas.space import CORNER_AXES

    sp, ds = SPACES[family], load_dataset(dataset)
    mm = MemoryModel(Budget(1 << 30, 1 << 30))
    corners = sp.corner_trials(ds)
    mems = mm.many([spec for _, spec in corners])
    for key in ("sram_bytes", "flash_bytes"):
        params, low = min(zip([p for p, _ in corners], mems), key=lambda pm: pm[1][key])
        rec = _Recorder(params)
        sp.suggest(rec, ds)
        steps = [{**params, name: choices[choices.index(params[name]) + 1]} for name, choices in rec.axes.items()
                 if name not in CORNER_AXES and len(choices) > 1 and choices.index(params[name]) + 1 < len(choices)]
        assert steps
        for step, m in zip(steps, mm.many([sp.suggest(_Recorder(p), ds) for p in steps])):
            assert m[key] >= low[key], (key, step)
