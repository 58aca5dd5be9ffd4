"""Run an artifact's C code on real test inputs and compare with onnxruntime on the same (Q)ONNX.

Numerics have one truth: onnxruntime on ART/model.onnx (float32) or ART/model.int8.onnx
(int8). Streaming models are stepped over whole sequences, each side carrying its own
state as the MCU does; the comparison covers every step's logits, top-1 at the last step.

A model from `--onnx` is compared per output: max |diff| and, for int8, quantisation steps
of that output's grid; top-1 agreement only where an output is class logits (a float output
named *logit*, or one row of scores 1 x C). Its test inputs are the model's own: token ids in
the range of the embedding table they index, masks with a padded tail (export/foreign_inputs.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.runtime.artifact import Artifact, open_artifact

FLOAT_TOL = 1e-4
INT8_MIN_TOP1 = 0.99
INT8_MAX_STEPS = 2.0

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]  # batched inputs -> batched outputs


def load_meta(art: str | Path) -> dict[str, Any]:
    """export.json of a checked artifact (runtime/artifact.py names any missing or corrupt file)."""
    return open_artifact(art).meta


def _opened(art, rest: tuple) -> tuple[Artifact, tuple]:
    """An Artifact from `art`; callers outside runtime/ still pass export.json's dict then ART
    (tests/e2e/test_clib.py, bench/spiking.py): that form is taken too."""
    if isinstance(art, dict):
        return open_artifact(rest[0]), rest[1:]
    return open_artifact(art), rest


def _foreign(art: Artifact) -> bool:
    return art.meta.get("source", {}).get("kind") == "onnx" and not art.streaming


def sample_feeds(art, n: int, *rest) -> tuple[list[np.ndarray], str]:
    """N test inputs per model input, each (N, *input shape): what `compare` runs."""
    art, (n, *_) = _opened(art, (n, *rest))
    if _foreign(art):
        from edgeformer.export.foreign_inputs import dataset_inputs, random_inputs
        model = art.path / "model.onnx"   # the float model: its embedding tables bound the token ids
        if art.meta.get("dataset"):
            from edgeformer.data import load_dataset
            ds = load_dataset(art.meta["dataset"])
            return (dataset_inputs(model, ds.x_test[:n], ds.name),
                    f"{ds.name} test split, first {min(n, len(ds.x_test))}")
        return random_inputs(model, n, seed=0), "random(seed=0)"
    x, provenance = sample_inputs(art, n)
    return [x[:, None]], provenance


def sample_inputs(art, n: int, *rest) -> tuple[np.ndarray, str]:
    """N real test inputs of the first input (batch axis dropped), from the artifact's dataset,
    or seeded ones of the input's kind when it has none."""
    art, (n, *_) = _opened(art, (n, *rest))
    x, _, provenance = _test_sample(art, n)
    return x, provenance


def _test_sample(art: Artifact, n: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """sample_inputs' inputs with their test-split labels (None for seeded inputs and foreign
    models), from one load of the dataset."""
    if _foreign(art):
        xs, provenance = sample_feeds(art, n)
        return (xs[0][:, 0] if xs[0].ndim > 1 and xs[0].shape[1] == 1 else xs[0]), None, provenance
    if art.meta.get("dataset"):
        from edgeformer.data import load_dataset
        ds = load_dataset(art.meta["dataset"])
        return ds.x_test[:n], np.asarray(ds.y_test[:n]), f"{ds.name} test split, first {min(n, len(ds.x_test))}"
    rng = np.random.default_rng(0)
    steps = (art.meta["spec"]["seq_len"],) if art.streaming else ()
    shape = art.inputs[0]["shape"]
    return rng.standard_normal((n, *steps, *shape[1:])).astype(np.float32), None, "random(seed=0)"


def quantize_io(rec: dict | None, x: np.ndarray) -> np.ndarray:
    """A float input as the C API takes it under `export --io-dtype` (export.json's io_quant
    record): onnxruntime's QuantizeLinear (float32 x / scale, round half to even, + zero point,
    saturate). No record: x unchanged."""
    if not rec:
        return x
    lo, hi = (-128, 127) if rec["dtype"] == "int8" else (0, 255)
    q = np.rint(np.asarray(x, np.float32) / np.float32(rec["scale"])) + np.float32(rec["zero_point"])
    return np.clip(q, lo, hi).astype(rec["dtype"])


def dequantize_io(rec: dict | None, y: np.ndarray) -> np.ndarray:
    """An int8/uint8 output back to float32 as onnxruntime's DequantizeLinear computes it."""
    if not rec:
        return y
    return ((np.asarray(y).astype(np.int32) - rec["zero_point"]).astype(np.float32) * np.float32(rec["scale"]))


def io_runner(art: Artifact, run: Runner) -> Runner:
    """`run` seen through the artifact's I/O dtype: float inputs in, float outputs out, so that it
    compares with onnxruntime on the (Q)ONNX as it is."""
    ins, outs = art.io_quant["inputs"], art.io_quant["outputs"]
    if not any(ins) and not any(outs):
        return run

    def wrapped(xs: list[np.ndarray]) -> list[np.ndarray]:
        got = run([quantize_io(ins[k] if k < len(ins) else None, x) for k, x in enumerate(xs)])
        return [dequantize_io(outs[k] if k < len(outs) else None, y) for k, y in enumerate(got)]
    return wrapped


def is_class_logits(name: str, shape: tuple[int, ...], dtype) -> bool:
    """Scores whose argmax is the answer: a float output named *logit*, or one row 1 x C."""
    if not np.issubdtype(np.dtype(dtype), np.floating) or not shape or shape[-1] < 2:
        return False
    return "logit" in name.lower() or (len(shape) == 2 and shape[0] == 1)


def _reference(art: Artifact, x: np.ndarray) -> np.ndarray:
    """onnxruntime outputs: (N, classes) logits, or (N, T, classes) per step for streaming."""
    sess = art.session
    ins = sess.get_inputs()
    if not art.streaming:
        return np.stack([sess.run(None, {ins[0].name: s[None]})[0][0] for s in x])
    outs = []
    for seq in x:
        state = [np.zeros(s, np.float32) for s in art.state_shapes]
        steps = []
        for x_t in seq:
            res = sess.run(None, {ins[0].name: x_t[None], **{i.name: s for i, s in zip(ins[1:], state)}})
            steps.append(res[0][0])
            state = res[1:]
        outs.append(np.stack(steps))
    return np.stack(outs)


def _candidate(art: Artifact, run: Runner, x: np.ndarray) -> np.ndarray:
    if not art.streaming:
        return run([x[:, None]])[0][:, 0]
    n, steps = len(x), []
    state = [np.zeros((n, *s), np.float32) for s in art.state_shapes]  # s keeps the model's batch-1 axis
    for t in range(x.shape[1]):
        res = run([x[:, t][:, None], *state])
        steps.append(res[0][:, 0])
        state = res[1:]
    return np.stack(steps, axis=1)


def judge(int8: bool, diff: float, top1: float, scale: float | None) -> dict[str, Any]:
    """Pass/fail of one comparison: float32 within FLOAT_TOL; int8 with top-1 agreement of at
    least INT8_MIN_TOP1 and at most INT8_MAX_STEPS steps of the output's int8 grid (`scale`;
    none: not judged on steps, so it fails)."""
    if not int8:
        return {"max_abs_diff_steps": None, "passed": bool(diff <= FLOAT_TOL)}
    # Both sides are float32 dequantisations of int8 on one grid: the difference is a whole
    # number of steps up to float32 rounding (2 steps can read 2.0000001), hence the round.
    steps = round(diff / scale, 4) if scale else None
    return {"max_abs_diff_steps": steps,
            "passed": bool(top1 >= INT8_MIN_TOP1 and steps is not None and steps <= INT8_MAX_STEPS)}


def input_steps(want: np.ndarray, got: np.ndarray, scale: float) -> np.ndarray:
    """Per input (axis 0), the largest |got - want| in steps of `scale`, rounded as judge() rounds."""
    d = np.abs(np.asarray(got).reshape(want.shape).astype(np.float64) - want).reshape(len(want), -1)
    return np.round(d.max(1) / scale, 4) if d.size else np.zeros(len(want))


def compare(art, run: Runner, n: int, *rest) -> dict[str, Any]:
    """The verify/run JSON: inputs, top1_agreement, max_abs_diff, max_abs_diff_steps, passed
    (and, for a model from --onnx, `outputs`: the same per output). `art`: an Artifact or ART."""
    art, (run, n, *_) = _opened(art, (run, n, *rest))
    if _foreign(art):
        return compare_outputs(art, run, n)
    run = io_runner(art, run)
    x, labels, provenance = _test_sample(art, n)
    want = _reference(art, x)
    got = _candidate(art, run, x)
    diff = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
    last_w, last_g = (want[:, -1], got[:, -1]) if art.streaming else (want, got)
    top1 = float(np.mean(last_w.argmax(-1) == last_g.argmax(-1)))
    result: dict[str, Any] = {"inputs": int(len(x)), "input_source": provenance, "reference": art.meta["reference"],
                              "top1_agreement": top1, "max_abs_diff": diff}
    result.update(judge(art.int8, diff, top1, art.outputs[0].get("step_scale")))
    if art.int8 and not result["passed"] and top1 >= INT8_MIN_TOP1 and (art.streaming or len(art.inputs) == 1):
        scale = art.outputs[0]["step_scale"]
        far = np.flatnonzero(input_steps(want, got, scale) > INT8_MAX_STEPS)
        if art.streaming:   # each sequence replayed whole, from the zero state the C starts from
            feeds, outs = [x[i] for i in far], [[got[i]] for i in far]
            state = [np.zeros(s, np.float32) for s in art.state_shapes]
        else:
            name = art.session.get_inputs()[0].name
            feeds, outs, state = [{name: x[i][None]} for i in far], [[got[i][None]] for i in far], None
        result["near_ties"] = _near_ties(art, feeds, outs, [scale], len(x), state)
        result["passed"] = result["near_ties"]["passed"]
    if labels is not None:
        # What a user asks of the firmware: its test accuracy, beside onnxruntime's on the same inputs.
        result["accuracy"] = float(np.mean(last_g.argmax(-1) == labels))
        result["reference_accuracy"] = float(np.mean(last_w.argmax(-1) == labels))
    return result


def _near_ties(art: Artifact, feeds, got, scales, sampled: int, state=None) -> dict[str, Any]:
    """Inputs beyond INT8_MAX_STEPS replayed exactly (runtime/exact_reference.py)."""
    from edgeformer.runtime.exact_reference import near_tie_verdict
    return near_tie_verdict(art.path / art.meta["reference"], feeds, got, scales, INT8_MAX_STEPS, sampled, state)


def _reference_outputs(art: Artifact, xs: list[np.ndarray]) -> tuple[list[str], list[np.ndarray]]:
    """onnxruntime on each sample (batch 1): per output, (N, *output shape)."""
    sess = art.session
    names = [i.name for i in sess.get_inputs()]
    outs = [sess.run(None, {k: x[i] for k, x in zip(names, xs)}) for i in range(len(xs[0]))]
    return [o.name for o in sess.get_outputs()], [np.stack([o[k] for o in outs]) for k in range(len(outs[0]))]


def _float_tol(want: np.ndarray) -> float:
    """float32: FLOAT_TOL absolute, relative to the output's magnitude when that is above 1
    (a hidden state of norm 30 carries float32 rounding of 30 x 1e-7 per op)."""
    return FLOAT_TOL * max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)


def compare_outputs(art: Artifact, run: Runner, n: int) -> dict[str, Any]:
    """A model from --onnx: every output compared on its own (max |diff|, int8 steps, top-1
    where it is class logits); passed when every output passes."""
    xs, provenance = sample_feeds(art, n)
    names, want = _reference_outputs(art, xs)
    got = io_runner(art, run)(xs)
    int8 = art.int8
    per, grid_scales = [], []
    for k, (name, w, g) in enumerate(zip(names, want, got)):
        g = np.asarray(g).reshape(w.shape)
        if w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer):
            diff = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))) if w.size else 0.0
            per.append({"name": name, "shape": list(w.shape[1:]), "max_abs_diff": diff, "max_abs_diff_steps": None,
                        "top1_agreement": None, "passed": diff == 0.0})
            grid_scales.append(None)
            continue
        diff = float(np.max(np.abs(g.astype(np.float64) - w))) if w.size else 0.0
        logits = is_class_logits(name, tuple(w.shape[1:]), w.dtype)
        top1 = float(np.mean(w.argmax(-1) == g.argmax(-1))) if logits and w.size else None
        scale, grid = art.outputs[k].get("step_scale"), "int8 output"
        if int8 and not scale and w.size:
            # A float output (e.g. a final LayerNorm left float) computed from int8 tensors: its
            # steps are those of an int8 grid over the range the reference output spans.
            scale, grid = float(np.max(w) - np.min(w)) / 255.0 or None, "range/255 (float output)"
        steps = round(diff / scale, 4) if int8 and scale else None
        grid_scales.append(scale if int8 else None)
        if int8:
            ok = (steps is not None and steps <= INT8_MAX_STEPS or diff == 0.0) and \
                (top1 is None or top1 >= INT8_MIN_TOP1)
        else:
            ok = diff <= _float_tol(w)
        row = {"name": name, "shape": list(w.shape[1:]), "max_abs_diff": diff, "max_abs_diff_steps": steps,
               "top1_agreement": top1, "passed": bool(ok)}
        if int8:
            row["step_grid"] = grid
        per.append(row)
    ties = None
    if int8 and not all(o["passed"] for o in per) and \
            all(o["max_abs_diff_steps"] is not None and (o["top1_agreement"] is None or o["top1_agreement"] >= INT8_MIN_TOP1)
                for o in per if not o["passed"]):
        # only steps failed: the inputs beyond them, replayed exactly
        scales = [sc if w.dtype.kind == "f" else None for w, sc in zip(want, grid_scales)]
        far = np.zeros(len(xs[0]), bool)
        for w, g, sc in zip(want, got, scales):
            if sc:
                far |= input_steps(w, g, sc) > INT8_MAX_STEPS
        idx = np.flatnonzero(far)
        in_names = [i.name for i in art.session.get_inputs()]
        ties = _near_ties(art, [{k: x[i] for k, x in zip(in_names, xs)} for i in idx],
                          [[np.asarray(g).reshape(w.shape)[i] for w, g in zip(want, got)] for i in idx],
                          scales, len(xs[0]))
    judged = [o["top1_agreement"] for o in per if o["top1_agreement"] is not None]
    steps_all = [o["max_abs_diff_steps"] for o in per if o["max_abs_diff_steps"] is not None]
    return {"inputs": int(len(xs[0])), "input_source": provenance, "reference": art.meta["reference"],
            "top1_agreement": min(judged) if judged else 1.0, "top1_judged": bool(judged),
            "max_abs_diff": max((o["max_abs_diff"] for o in per), default=0.0),
            "max_abs_diff_steps": max(steps_all) if int8 and steps_all else None,
            "outputs": per, "passed": all(o["passed"] for o in per) or bool(ties and ties["passed"]),
            **({"near_ties": ties} if ties else {})}
