"""verify.compare's pass/fail thresholds, on the tiny int8 artifact's C built for the host and
onnxruntime on its QDQ model (random(seed=0) inputs): exact, at the 2-step limit, past it; and
judge()'s boundaries as numbers."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.runtime import verify
from edgeformer.runtime.artifact import open_artifact
from edgeformer.runtime.host import build_host_multi, run_host
from edgeformer.runtime.verify import FLOAT_TOL, INT8_MAX_STEPS, INT8_MIN_TOP1, compare, judge
from tests.unit.fc_artifact import OUT_SCALE, make_artifact

N = 40


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """io dtype -> (Artifact, host runner of its C); both models in one executable (one kernel build)."""
    root = tmp_path_factory.mktemp("verify")
    arts = {io: open_artifact(make_artifact(root / io, io, name=f"fc_{io}")) for io in ("float32", "int8")}
    exe = build_host_multi([a.c_dir for a in arts.values()], root / "fc.exe",
                           signatures=[a.signature for a in arts.values()])
    return {io: (a, lambda xs, m=a.signature["name"]: run_host(exe, xs, model=m)) for io, a in arts.items()}


def _shifted(run, by):
    """The C's outputs with sample 0's smallest logit lowered by `by` (in the output's own units):
    its top-1 stays, only the difference grows."""
    def shifted(xs):
        ys = [np.array(y) for y in run(xs)]
        row = ys[0].reshape(len(ys[0]), -1)[0]
        k = int(np.argmin(row))
        assert np.iinfo(row.dtype).min + by <= row[k] if row.dtype.kind == "i" else True
        row[k] -= by
        return ys
    return shifted


@pytest.mark.parametrize("io", ["float32", "int8"])
def test_the_c_passes_and_one_session_serves_the_compare(built, io, monkeypatch):
    from edgeformer.export import onnx_check
    art, run = built[io]
    opened = []
    real = onnx_check.session
    monkeypatch.setattr(onnx_check, "session", lambda m: opened.append(m) or real(m))
    fresh = open_artifact(art.path)
    res = compare(fresh, run, N)
    assert res["passed"] and res["inputs"] == N and res["input_source"] == "random(seed=0)"
    assert res["max_abs_diff_steps"] <= INT8_MAX_STEPS and res["top1_agreement"] >= INT8_MIN_TOP1
    assert len(opened) == 1, opened


@pytest.mark.parametrize("steps, passed", [(2, True), (3, False)])
def test_int8_output_steps_limit(built, steps, passed):
    art, run = built["int8"]           # int8 API outputs: one unit is one step
    assert compare(art, run, N)["max_abs_diff_steps"] == 0.0   # the C is bit-exact here
    res = compare(art, _shifted(run, steps), N)
    assert res["max_abs_diff_steps"] == steps and res["passed"] is passed
    assert res["max_abs_diff"] == pytest.approx(steps * OUT_SCALE, rel=1e-6)
    if not passed:   # the one input beyond the limit is replayed exactly: no near tie explains 3 steps
        assert res["near_ties"] == {**res["near_ties"], "beyond_tolerance": 1, "checked": 1, "by_float64": 0,
                                    "by_one_tie": 0, "unexplained": 1, "passed": False}


@pytest.mark.parametrize("steps, passed", [(2, True), (3, False)])
def test_float_api_outputs_are_judged_on_the_int8_grid(built, steps, passed):
    art, run = built["float32"]        # float API outputs dequantised from the int8 grid (scale 0.05)
    assert compare(art, run, N)["max_abs_diff_steps"] == 0.0
    res = compare(art, _shifted(run, np.float32(steps * OUT_SCALE)), N)
    assert res["max_abs_diff_steps"] == steps and res["passed"] is passed


def test_judge_boundaries():
    assert judge(False, FLOAT_TOL, 1.0, None) == {"max_abs_diff_steps": None, "passed": True}
    assert not judge(False, FLOAT_TOL * 1.01, 1.0, None)["passed"]
    assert judge(True, 2 * 0.05, INT8_MIN_TOP1, 0.05)["passed"]
    assert not judge(True, 2 * 0.05, INT8_MIN_TOP1 - 0.005, 0.05)["passed"]       # top-1 below 99%
    assert judge(True, 2.00004 * 0.05, 1.0, 0.05) == {"max_abs_diff_steps": 2.0, "passed": True}  # float32 rounding
    assert judge(True, 2.0001 * 0.05, 1.0, 0.05) == {"max_abs_diff_steps": 2.0001, "passed": False}
    assert judge(True, 0.0, 1.0, None) == {"max_abs_diff_steps": None, "passed": False}   # no grid: not judged


def test_the_old_meta_then_art_form_still_compares(built):
    art, run = built["float32"]
    assert verify.compare(art.meta, art.path, run, 5)["passed"]
    x, src = verify.sample_inputs(art.meta, art.path, 5)
    assert x.shape == (5, 8) and src == "random(seed=0)"
