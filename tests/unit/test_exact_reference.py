"""runtime/exact_reference.py: the QDQ graph in float64, its near ties, one rounding flipped.

The graph: x -> Q/DQ (0.25) -> x 3 -> Q/DQ (0.25). x[0] is the float32 just above 2.625, so
x[0] / 0.25 lies 9.5e-7 steps above the tie 10.5: it rounds to 11 and the output is 8.25 (33
steps); rounded the other way it is 7.5, three output steps lower. x[1] = 1.1 is 0.1 step
from any tie."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgeformer.runtime.exact_reference import TIE_STEPS, ExactModel, explain, near_tie_verdict
from tests.unit.int8_helpers import QDQBuilder, ort_outputs

S = 0.25
X = np.array([[np.nextafter(np.float32(2.625), np.float32(3)), 1.1]], np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    b = QDQBuilder()
    xq = b.qdq("x", S, 0)
    y = b.qdq(b.op("Mul", xq, b.const(3.0)), S, 0)
    path = tmp_path_factory.mktemp("exact") / "m.onnx"
    onnx.save(b.model({"x": (1, 2)}, [y]), str(path))
    return path


def test_float64_outputs_equal_onnxruntime_away_from_ties(model_path):
    m = ExactModel(model_path)
    xs = np.array([[0.3, -1.7]], np.float32)
    outs, _, _ = m.run({"x": xs})
    assert np.array_equal(outs[0], ort_outputs(onnx.load(str(model_path)), {"x": xs[None]})[0][0])
    assert np.array_equal(m.run({"x": X})[0][0], [[8.25, 3.0]])   # round(4.4) = 4 -> 12 steps: 3.0


def test_ties_lists_the_near_one_nearest_first(model_path):
    m = ExactModel(model_path)
    _, _, pre = m.run({"x": X})
    ties = m.ties(pre)
    assert ties and ties[0][2] == 0 and ties[0][0] == pytest.approx(9.5367e-7, rel=1e-3)
    assert all(d < TIE_STEPS for d, _, _ in ties) and [d for d, _, _ in ties] == sorted(d for d, _, _ in ties)
    assert not any(i == 1 for _, _, i in ties)                   # 0.1 step from a tie is no tie


def test_one_flipped_rounding_propagates_through_the_rest_of_the_graph(model_path):
    m = ExactModel(model_path)
    _, results, pre = m.run({"x": X})
    tie = m.ties(pre)[0]
    flipped = m.flipped(results, pre, {"x": X}, tie)
    assert np.array_equal(flipped[0], [[7.5, 3.0]])
    m._plain = False                                             # the whole-graph replay agrees
    assert np.array_equal(m.flipped(results, pre, {"x": X}, tie)[0], [[7.5, 3.0]])


def test_explain_tells_float64_one_tie_and_a_real_difference_apart(model_path):
    m = ExactModel(model_path)
    budget = [100]
    exact = explain(m, {"x": X}, [np.array([[8.25, 3.0]], np.float32)], [S], 2.0, budget)
    assert exact == {"by": "float64", "float64_steps": 0.0}
    tie = explain(m, {"x": X}, [np.array([[7.5, 3.0]], np.float32)], [S], 2.0, budget)
    assert tie["by"] == "one_tie" and tie["float64_steps"] == 3.0 and tie["tie"]["index"] == 0
    real = explain(m, {"x": X}, [np.array([[8.25, 3.75]], np.float32)], [S], 2.0, budget)
    assert real["by"] is None and real["float64_steps"] == 3.0
    assert budget[0] < 100


def test_the_verdict_counts_and_caps(model_path):
    feeds = [{"x": X}, {"x": X}]
    got = [[np.array([[7.5, 3.0]], np.float32)], [np.array([[8.25, 3.75]], np.float32)]]
    v = near_tie_verdict(model_path, feeds, got, [S], 2.0, sampled=40)
    assert v["checked"] == 2 and v["by_one_tie"] == 1 and v["unexplained"] == 1 and v["passed"] is False
    assert near_tie_verdict(model_path, feeds[:1], got[:1], [S], 2.0, sampled=40)["passed"] is True
    many = near_tie_verdict(model_path, feeds * 11, got * 11, [S], 2.0, sampled=100)   # 22 > max(20, 1)
    assert many["passed"] is False and many["checked"] == 0 and "22 inputs" in many["why"]


@pytest.fixture(scope="module")
def step_path(tmp_path_factory):
    """A streaming step model: h' = QDQ(QDQ(x) * 3 + QDQ(h)), logits y = QDQ(2 h'), state out h'."""
    b = QDQBuilder()
    h_next = b.qdq(b.op("Add", b.op("Mul", b.qdq("x", S, 0), b.const(3.0)), b.qdq("h", S, 0)), S, 0)
    y = b.qdq(b.op("Mul", h_next, b.const(2.0)), S, 0)
    path = tmp_path_factory.mktemp("exact_step") / "step.onnx"
    onnx.save(b.model({"x": (1, 2), "h": (1, 2)}, [y, h_next]), str(path))
    return path


# Step 0 meets X's near tie (x[0] rounds to 2.75, h' = 8.25); step 1 adds 1.5. Exact logits per
# step: [16.5, 6], [19.5, 9]. With the tie rounded down h' is 7.5 and the state carries the
# 0.75 it lost into step 1: [15, 6], [18, 9], 6 steps off at both steps.
SEQ = np.concatenate([X, [[0.5, 0.5]]]).astype(np.float32)
ZERO = [np.zeros((1, 2), np.float32)]


def test_a_sequence_replays_its_state_and_steps_equal_onnxruntime(step_path):
    from edgeformer.runtime.exact_reference import run_sequence

    m = ExactModel(step_path)
    steps = run_sequence(m, SEQ, ZERO)
    assert [o[0].tolist() for _, o, _, _ in steps] == [[[16.5, 6.0]], [[19.5, 9.0]]]
    h = ZERO[0]
    for t, x_t in enumerate(SEQ):                                # onnxruntime, state fed back the same way
        y, h = ort_outputs(onnx.load(str(step_path)), {"x": x_t[None][None], "h": h[None]})
        y, h = y[0], h[0]
        assert np.array_equal(y, steps[t][1][0])


def test_a_tie_in_an_early_step_explains_every_later_step(step_path):
    from edgeformer.runtime.exact_reference import explain_sequence

    m, budget = ExactModel(step_path), [100]
    exact = explain_sequence(m, SEQ, np.array([[16.5, 6.0], [19.5, 9.0]], np.float32), S, 2.0, budget, ZERO)
    assert exact == {"by": "float64", "float64_steps": 0.0}
    tie = explain_sequence(m, SEQ, np.array([[15.0, 6.0], [18.0, 9.0]], np.float32), S, 2.0, budget, ZERO)
    assert tie["by"] == "one_tie" and tie["float64_steps"] == 6.0 and tie["tie"]["step"] == 0
    real = explain_sequence(m, SEQ, np.array([[16.5, 6.0], [19.5, 10.0]], np.float32), S, 2.0, budget, ZERO)
    assert real["by"] is None and real["float64_steps"] == 4.0
    v = near_tie_verdict(step_path, [SEQ, SEQ], [[np.array([[15.0, 6.0], [18.0, 9.0]], np.float32)],
                                                 [np.array([[16.5, 6.0], [19.5, 10.0]], np.float32)]],
                         [S], 2.0, sampled=40, state=ZERO)
    assert v["checked"] == 2 and v["by_one_tie"] == 1 and v["unexplained"] == 1 and v["passed"] is False
