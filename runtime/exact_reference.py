"""The QDQ graph evaluated exactly (float64), and the near ties that decide an int8 verdict.

onnxruntime evaluates DQ -> op -> Q in float32, and our integer kernels round through a
fixed-point multiplier: both can round a value that lies very near a half-way point to the
other neighbour, and one such step early in a network can grow to several at the output.
So where the C build is beyond `verify`'s step tolerance from onnxruntime on an input, that
input is replayed here:

- float64: onnx's reference evaluator on the same QDQ model, every float tensor widened and
  Q/DQ computed in float64 (round half to even), i.e. the model's exact int8 semantics;
- if the C is within tolerance of that, onnxruntime's float32 rounding was the difference;
- else every QuantizeLinear element within TIE_STEPS of a half-way point is a candidate, nearest
  first; each is rounded the other way alone and the graph after it re-run. If one candidate
  brings the exact outputs within tolerance of the C, the input is explained by that one tie.

A streaming step model is replayed over the whole sequence, its state outputs fed back as the
next step's state inputs: a tie at step t is flipped and steps t..T-1 re-run from there, since a
state rounded the other way carries on into every later step.

An input explained neither way is a real disagreement. TIE_STEPS bounds how near a tie the
C's own rounding may part from the exact one: float32 LayerNorm/softmax arithmetic on values up to
128 steps errs by about 1e-5 steps, the fixed-point multipliers by about 1e-6 (measured widest
tie needed: 4.4e-6 steps, bench/verify_steps.py); 1/1024 keeps two orders of magnitude over both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TIE_STEPS = 1.0 / 1024
MAX_REPLAYS = 4000       # graph runs replayed per verify (a streaming flip re-runs the rest of its
                         # sequence): a real kernel error must not take minutes


def _per_axis(p: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    if p.size == 1:
        return p.astype(np.float64).reshape(())
    shape = [1] * x.ndim
    shape[axis] = -1
    return p.astype(np.float64).reshape(shape)


def _widened(path: Path):
    """The model with every float32 initializer, constant, cast and value type made float64."""
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.load(str(path))

    def wide(t):
        return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name)
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(wide(t))
    for n in m.graph.node:
        for a in n.attribute:
            if n.op_type == "Constant" and a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(wide(a.t))
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    for v in [*m.graph.input, *m.graph.output, *m.graph.value_info]:
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.DOUBLE
    return m


class ExactModel:
    """A QDQ model in float64. run() keeps every intermediate and each Q node's value before
    rounding (x / scale), so that one rounding can be flipped and only the graph after it re-run."""

    def __init__(self, path: str | Path):
        from onnx.reference import ReferenceEvaluator
        from onnx.reference.op_run import OpRun

        pre: dict[str, np.ndarray] = {}
        self._pre = pre

        class DequantizeLinear(OpRun):
            op_domain = ""

            def _run(self, x, scale, zp=None, axis=1, block_size=None, output_dtype=None):
                z = 0.0 if zp is None else _per_axis(zp, x, axis)
                return ((x.astype(np.float64) - z) * _per_axis(scale, x, axis),)

        class QuantizeLinear(OpRun):
            op_domain = ""

            def _run(self, x, scale, zp=None, axis=1, saturate=None, block_size=None, output_dtype=None,
                     precision=None):
                dtype = zp.dtype if zp is not None else np.dtype(np.uint8)
                info = np.iinfo(dtype)
                z = 0.0 if zp is None else _per_axis(zp, x, axis)
                v = x.astype(np.float64) / _per_axis(scale, x, axis)
                pre[self.onnx_node.output[0]] = v
                return (np.clip(np.rint(v) + z, info.min, info.max).astype(dtype),)

        self.model = _widened(Path(path))
        self.ref = ReferenceEvaluator(self.model, new_ops=[DequantizeLinear, QuantizeLinear])
        self.inputs = [i.name for i in self.model.graph.input]
        self.outputs = [o.name for o in self.model.graph.output]
        self.nodes = list(self.ref.rt_nodes_)
        # the suffix replay calls nodes directly: only for graphs without subgraphs or functions
        self._plain = all(not n.need_context() and not getattr(n, "has_linked_attribute", False)
                          for n in self.nodes)

    def run(self, feeds: dict[str, np.ndarray]) -> tuple[list[np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
        """(outputs, every intermediate, each Q output's pre-rounding value)."""
        self._pre.clear()
        wide = {k: (v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v) for k, v in feeds.items()}
        results = self.ref.run(None, wide, intermediate=True)
        return [results[o] for o in self.outputs], results, dict(self._pre)

    def ties(self, pre: dict[str, np.ndarray], width: float = TIE_STEPS) -> list[tuple[float, str, int]]:
        """(distance in steps from a half-way point, Q output, flat index) within `width`, nearest first."""
        out = []
        for name, v in pre.items():
            d = np.abs(v - np.floor(v) - 0.5).reshape(-1)
            for i in np.flatnonzero(d < width):
                out.append((float(d[i]), name, int(i)))
        return sorted(out)

    def flipped(self, results: dict[str, Any], pre: dict[str, np.ndarray], feeds, tie) -> list[np.ndarray]:
        """The outputs with the one rounding at `tie` taken to the other neighbour."""
        _, name, i = tie
        v = pre[name].reshape(-1)[i]
        q = results[name].copy()
        flat = q.reshape(-1)
        info = np.iinfo(q.dtype)
        other = np.floor(v) if np.rint(v) == np.ceil(v) else np.ceil(v)
        flat[i] = np.clip(flat[i] + (other - np.rint(v)), info.min, info.max)
        if not self._plain:
            return self._replay_full(feeds, name, i, flat[i])
        res = dict(results)
        res[name] = q
        start = next(k for k, n in enumerate(self.nodes) if name in n.output) + 1
        for node in self.nodes[start:]:
            outs = node.run(*[res[x] if x else None for x in node.input])
            res.update(zip(node.output, outs))
        return [res[o] for o in self.outputs]

    def _replay_full(self, feeds, name, i, value):
        """Slow path for graphs with subgraphs: the whole graph with that element overridden."""
        old = self.ref.rt_nodes_
        try:
            for node in old:
                if name in node.output:
                    run = node.run

                    def patched(*a, _run=run, **kw):
                        o = list(_run(*a, **kw))
                        o[0] = o[0].copy()
                        o[0].reshape(-1)[i] = value
                        return tuple(o)
                    node.run = patched
            return self.run(feeds)[0]
        finally:
            for node in old:
                node.__dict__.pop("run", None)


def explain(model: ExactModel, feeds: dict[str, np.ndarray], got: list[np.ndarray], scales: list[float | None],
            tol: float, budget: list[int]) -> dict[str, Any]:
    """Why the C's outputs `got` (one input) may be beyond `tol` steps from onnxruntime:
    {"by": "float64" | "one_tie" | None, "float64_steps": ..., "tie": {...}}. `budget`: replays left,
    shared by the inputs of one verify (decremented here)."""
    outs, results, pre = model.run(feeds)
    base = _steps_off(outs, got, scales)
    row: dict[str, Any] = {"by": None, "float64_steps": base}
    if base <= tol:
        row["by"] = "float64"
        return row
    for tie in model.ties(pre):
        if budget[0] <= 0:
            row["budget_spent"] = True
            break
        budget[0] -= 1
        if _steps_off(model.flipped(results, pre, feeds, tie), got, scales) <= tol:
            row.update(by="one_tie", tie={"tensor": tie[1], "index": tie[2], "distance_steps": tie[0]})
            break
    return row


def _steps_off(exact: list[np.ndarray], got: list[np.ndarray], scales: list[float | None]) -> float:
    """The largest |got - exact| over outputs with an int8 grid, in steps of that grid."""
    worst = 0.0
    for e, g, s in zip(exact, got, scales):
        if s:
            worst = max(worst, float(np.max(np.abs(np.asarray(g, np.float64).reshape(e.shape) - e))) / s)
    return round(worst, 4)


def run_sequence(model: ExactModel, xs: np.ndarray, state: list[np.ndarray]) -> list[tuple]:
    """The step model over one sequence `xs` (T, ...), from `state`: outputs[1:] become the next
    step's inputs[1:]. Per step (feeds, outputs, intermediates, pre-rounding values)."""
    steps = []
    for x_t in xs:
        feeds = {model.inputs[0]: np.asarray(x_t)[None], **dict(zip(model.inputs[1:], state))}
        outs, results, pre = model.run(feeds)
        steps.append((feeds, outs, results, pre))
        state = outs[1:]
    return steps


def explain_sequence(model: ExactModel, xs: np.ndarray, got: np.ndarray, scale: float, tol: float,
                     budget: list[int], state: list[np.ndarray]) -> dict[str, Any]:
    """explain() for a streaming step model: `got` holds the C's first output at every step
    (T, *output shape) of the sequence `xs`, from the initial `state`."""
    def per_step(outs: list[np.ndarray]) -> float:
        return _steps_off([np.stack(outs)], [got], [scale])

    steps = run_sequence(model, xs, state)
    base = per_step([o[0] for _, o, _, _ in steps])
    row: dict[str, Any] = {"by": None, "float64_steps": base}
    if base <= tol:
        row["by"] = "float64"
        return row
    ties = sorted((d, t, name, i) for t, (_, _, _, pre) in enumerate(steps) for d, name, i in model.ties(pre))
    for d, t, name, i in ties:
        if budget[0] <= 0:
            row["budget_spent"] = True
            break
        budget[0] -= len(xs) - t     # the budget counts graph runs: this flip re-runs steps t..T-1
        feeds, _, results, pre = steps[t]
        flipped = model.flipped(results, pre, feeds, (d, name, i))
        rest = run_sequence(model, xs[t + 1:], flipped[1:])
        outs = [o[0] for _, o, _, _ in steps[:t]] + [flipped[0]] + [o[0] for _, o, _, _ in rest]
        if per_step(outs) <= tol:
            row.update(by="one_tie", tie={"tensor": name, "index": i, "step": t, "distance_steps": d})
            break
    return row


def near_tie_verdict(path: str | Path, feeds: list[dict[str, np.ndarray]], got: list[list[np.ndarray]],
                     scales: list[float | None], tol: float, sampled: int,
                     state: list[np.ndarray] | None = None) -> dict[str, Any]:
    """`verify`'s second look at the inputs beyond `tol` steps (feeds[k], got[k]: input k's
    feeds and the C's outputs): `passed` when each is explained by float64 or by one near tie.
    More than max(20, 1% of the `sampled` inputs) beyond tolerance is not a matter of ties.
    A streaming step model gives its initial `state`: feeds[k] is then input k's whole sequence
    (T, ...) and got[k] the C's first output at every step, [(T, *output shape)]."""
    cap = max(20, sampled // 100)
    out: dict[str, Any] = {"beyond_tolerance": len(feeds), "tie_steps": TIE_STEPS}
    if len(feeds) > cap:
        out.update(checked=0, passed=False, why=f"{len(feeds)} inputs beyond {tol:g} steps (ties explain at most {cap})")
        return out
    model, budget = ExactModel(path), [MAX_REPLAYS]
    if state is None:
        rows = [explain(model, f, g, scales, tol, budget) for f, g in zip(feeds, got)]
    else:
        rows = [explain_sequence(model, f, g[0], scales[0], tol, budget, state) for f, g in zip(feeds, got)]
    out.update(checked=len(rows),
               by_float64=sum(r["by"] == "float64" for r in rows),
               by_one_tie=sum(r["by"] == "one_tie" for r in rows),
               unexplained=sum(r["by"] is None for r in rows),
               passed=all(r["by"] for r in rows))
    out["worst_float64_steps"] = max(r["float64_steps"] for r in rows) if rows else 0.0
    ties = [r["tie"]["distance_steps"] for r in rows if r["by"] == "one_tie"]
    if ties:
        out["widest_tie_steps"] = max(ties)
    if any(r.get("budget_spent") for r in rows):
        out["why"] = f"stopped after {MAX_REPLAYS} replayed graph runs"
    return out
