"""Run an artifact's C code on real test inputs and compare with onnxruntime on the same (Q)ONNX.

Numerics have one truth: onnxruntime on ART/model.onnx (float32) or ART/model.int8.onnx
(int8). Streaming models are stepped over whole sequences, each side carrying its own
state as the MCU does; the comparison covers every step's logits, top-1 at the last step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.errors import UserError

FLOAT_TOL = 1e-4
INT8_MIN_TOP1 = 0.99
INT8_MAX_STEPS = 2.0

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]  # batched inputs -> batched outputs


def load_meta(art: str | Path) -> dict[str, Any]:
    """export.json of a checked artifact (runtime/artifact.py names any missing or corrupt file)."""
    from edgeformer.runtime.artifact import open_artifact
    return open_artifact(art).meta


def test_inputs(meta: dict[str, Any], art: Path, n: int) -> tuple[np.ndarray, str]:
    """N real test inputs from the artifact's dataset, or seeded normal ones when it has none."""
    from edgeformer.export.onnx_check import session
    sess = session(str(art / meta["reference"]))
    shape = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape]
    if meta.get("dataset"):
        from edgeformer.data import load_dataset
        ds = load_dataset(meta["dataset"])
        return ds.x_test[:n], f"{ds.name} test split, first {min(n, len(ds.x_test))}"
    rng = np.random.default_rng(0)
    steps = (meta["spec"]["seq_len"],) if meta.get("streaming") else ()
    return rng.standard_normal((n, *steps, *shape[1:])).astype(np.float32), "random(seed=0)"


def _output_scale(onnx_path: Path) -> float | None:
    """Scale of the int8 tensor the logits are dequantised from (what one 'step' means)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(onnx_path))
    inits = {i.name: i for i in m.graph.initializer}
    out = m.graph.output[0].name
    for node in m.graph.node:
        if out in node.output and node.op_type == "DequantizeLinear" and node.input[1] in inits:
            return float(numpy_helper.to_array(inits[node.input[1]]).reshape(-1)[0])
    return None


def _reference(meta: dict[str, Any], art: Path, x: np.ndarray) -> list[np.ndarray]:
    """onnxruntime outputs: (N, classes) logits, or (N, T, classes) per step for streaming."""
    from edgeformer.export.onnx_check import session
    sess = session(str(art / meta["reference"]))
    ins = sess.get_inputs()
    if not meta.get("streaming"):
        return np.stack([sess.run(None, {ins[0].name: s[None]})[0][0] for s in x])
    outs = []
    for seq in x:
        state = [np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32) for i in ins[1:]]
        steps = []
        for x_t in seq:
            res = sess.run(None, {ins[0].name: x_t[None], **{i.name: s for i, s in zip(ins[1:], state)}})
            steps.append(res[0][0])
            state = res[1:]
        outs.append(np.stack(steps))
    return np.stack(outs)


def _candidate(meta: dict[str, Any], run: Runner, x: np.ndarray, state_shapes: list[tuple[int, ...]]) -> np.ndarray:
    if not meta.get("streaming"):
        return run([x[:, None]])[0][:, 0]
    n, steps = len(x), []
    state = [np.zeros((n, *s), np.float32) for s in state_shapes]  # s keeps the model's batch-1 axis
    for t in range(x.shape[1]):
        res = run([x[:, t][:, None], *state])
        steps.append(res[0][:, 0])
        state = res[1:]
    return np.stack(steps, axis=1)


def compare(meta: dict[str, Any], art: Path, run: Runner, n: int) -> dict[str, Any]:
    """The verify/run JSON: inputs, top1_agreement, max_abs_diff, max_abs_diff_steps, passed."""
    from edgeformer.export.onnx_check import session
    x, provenance = test_inputs(meta, art, n)
    sess = session(str(art / meta["reference"]))
    state_shapes = [tuple(d if isinstance(d, int) else 1 for d in i.shape) for i in sess.get_inputs()[1:]]
    want = _reference(meta, art, x)
    got = _candidate(meta, run, x, state_shapes)
    diff = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
    last_w, last_g = (want[:, -1], got[:, -1]) if meta.get("streaming") else (want, got)
    top1 = float(np.mean(last_w.argmax(-1) == last_g.argmax(-1)))
    result: dict[str, Any] = {"inputs": int(len(x)), "input_source": provenance, "reference": meta["reference"],
                              "top1_agreement": top1, "max_abs_diff": diff, "max_abs_diff_steps": None}
    if meta["quantize"] == "int8":
        scale = _output_scale(art / meta["reference"])
        # Both sides are float32 dequantisations of int8 on one grid: the difference is a whole
        # number of steps up to float32 rounding (2 steps can read 2.0000001), hence the round.
        result["max_abs_diff_steps"] = round(diff / scale, 4) if scale else None
        steps_ok = result["max_abs_diff_steps"] is not None and result["max_abs_diff_steps"] <= INT8_MAX_STEPS
        result["passed"] = bool(top1 >= INT8_MIN_TOP1 and steps_ok)
    else:
        result["passed"] = bool(diff <= FLOAT_TOL)
    return result
