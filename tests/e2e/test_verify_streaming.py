"""verify's near-tie replay on a streaming int8 model (lmuformer-tiny's host C build).

One logit of the first sequence's last step is lowered by 3 int8 steps, as a kernel error would:
verify replays that sequence whole in float64 from the zero state, finds no tie that explains it,
and the replay meets the C everywhere else (its worst distance is exactly those 3 steps)."""
from __future__ import annotations

import numpy as np

from edgeformer.runtime.artifact import open_artifact
from edgeformer.runtime.host import build_host, run_host
from edgeformer.runtime.verify import compare
from tests.conftest import run_cli

N = 12


def _last_step_lowered(run, steps: int, scale: float, seq_len: int):
    calls = [0]

    def lowered(xs):
        ys = [np.array(y) for y in run(xs)]
        calls[0] += 1
        if calls[0] == seq_len:
            row = ys[0].reshape(len(ys[0]), -1)[0]
            row[int(np.argmin(row))] -= steps * scale
        return ys
    return lowered


def test_a_streaming_int8_model_is_replayed_over_its_whole_sequence(tmp_path):
    art = tmp_path / "art"
    run_cli("export", "--model", "lmuformer-tiny", "--quantize", "int8", "--out", art)
    opened = open_artifact(art)
    assert opened.streaming
    exe = build_host(opened.c_dir, tmp_path / "model", signature=opened.signature)
    run = lambda xs: run_host(exe, xs)   # noqa: E731
    honest = compare(opened, run, N)
    assert honest["passed"] and "near_ties" not in honest
    scale, seq_len = opened.outputs[0]["step_scale"], opened.meta["spec"]["seq_len"]
    res = compare(opened, _last_step_lowered(run, 3, scale, seq_len), N)
    assert res["passed"] is False and res["max_abs_diff_steps"] == 3.0
    assert res["near_ties"] == {**res["near_ties"], "beyond_tolerance": 1, "checked": 1, "by_float64": 0,
                                "by_one_tie": 0, "unexplained": 1, "passed": False, "worst_float64_steps": 3.0}
