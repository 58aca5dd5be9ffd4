"""torch -> ONNX: the float model that every later stage reads.

ViT: `forward` with a fixed batch of 1 (input "input" 1xCxHxW, output "logits").
LMUFormer: the streaming STEP, which is what the MCU runs: inputs "input" (1xF,
one time step) and "state_in.<k>", outputs "logits" and "state_out.<k>", with
the state layout taken from the model's `init_state` / `step`.

The legacy TorchScript exporter (`dynamo=False`) is used: with the models'
static reshapes it gives compact, fixed-shape graphs. onnxscript's optimizer
then folds the remaining shape arithmetic (Shape/Gather/Slice index chains from
`chunk`, Identity, Constant nodes) into initializers; it keeps standard ONNX
ops only (unlike onnxruntime's offline optimiser, which rewrites 3-D MatMul+Add
into Reshape/Gemm/Reshape and adds com.microsoft opset imports).

Nothing is written until onnx.checker and the onnxruntime-vs-torch comparison
pass, so a failing export leaves no file behind.
"""
from __future__ import annotations

import collections
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from edgeformer.errors import EdgeformerError, UserError
from edgeformer.fsio import write_atomic

OPSET = 17  # LayerNormalization is native from 17; both torch's legacy exporter and ORT are mature here
TOLERANCE = 1e-4
DEFAULT_CHECK_SAMPLES = 4


# ---------------------------------------------------------------- state layout
def flatten_state(state: Any) -> list[tuple[str, torch.Tensor]]:
    """(key, tensor) pairs of a streaming state in a fixed order.

    Accepts a tensor, a list/tuple (keys are indices) or a dict (keys in insertion
    order), nested; nested keys are joined with '.'.
    """
    if isinstance(state, torch.Tensor):
        return [("0", state)]
    out: list[tuple[str, torch.Tensor]] = []

    def walk(prefix: str, s: Any) -> None:
        if isinstance(s, torch.Tensor):
            out.append((prefix, s))
        elif isinstance(s, dict):
            for k, v in s.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(s, (list, tuple)):
            for i, v in enumerate(s):
                walk(f"{prefix}.{i}" if prefix else str(i), v)
        else:
            raise EdgeformerError(f"streaming state holds a {type(s).__name__}; only tensors, lists, tuples and dicts are exportable")

    walk("", state)
    return out


def unflatten_state(template: Any, tensors: list[torch.Tensor]) -> Any:
    """Inverse of flatten_state: rebuild `template`'s structure from tensors in flatten order."""
    it = iter(tensors)

    def build(s: Any) -> Any:
        if isinstance(s, torch.Tensor):
            return next(it)
        if isinstance(s, dict):
            return type(s)((k, build(v)) for k, v in s.items())
        if isinstance(s, tuple):
            return tuple(build(v) for v in s)
        return [build(v) for v in s]

    return build(template)


class StepModule(torch.nn.Module):
    """forward(x_t, *state tensors) -> (logits_t, *new state tensors): the exported streaming step."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.template = model.init_state(1)

    def forward(self, x_t: torch.Tensor, *flat: torch.Tensor):
        logits, state = self.model.step(x_t, unflatten_state(self.template, list(flat)))
        return (logits, *[t for _, t in flatten_state(state)])


def step_io_names(model: torch.nn.Module) -> tuple[list[str], list[str], list[tuple[str, tuple[int, ...]]]]:
    """Input names, output names and (state key, shape) of a streaming model's step graph."""
    keys = flatten_state(model.init_state(1))
    names = list(model.state_names()) if hasattr(model, "state_names") else []
    if len(names) == len(keys):  # the model's own names (e.g. "block0.lmu_m") read better than indices
        keys = [(n, t) for n, (_, t) in zip(names, keys)]
    ins = ["input"] + [f"state_in.{k}" for k, _ in keys]
    outs = ["logits"] + [f"state_out.{k}" for k, _ in keys]
    return ins, outs, [(k, tuple(t.shape)) for k, t in keys]


def is_streaming(spec) -> bool:
    return getattr(spec, "family", None) == "lmuformer"


# ---------------------------------------------------------------- export
def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items()))


def _torch_export(module: torch.nn.Module, args: tuple, ins: list[str], outs: list[str]) -> onnx.ModelProto:
    buf = io.BytesIO()
    from edgeformer.export.onnx_check import one_thread

    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=OPSET,
                          input_names=ins, output_names=outs, do_constant_folding=True)
    return onnx.load_from_string(buf.getvalue())


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """Fold constants and shape arithmetic; standard ONNX ops only, names of graph I/O kept.

    onnxscript's `optimizer.optimize` pass sequence, with its pattern rewriter limited to
    `_rewrite_pass`'s rules: of its ~46 default rules only the BatchNorm fusions ever match what our
    models export, and trying the other rules on every node took ~60% of the optimiser's time
    (the search lowers a candidate per trial). tests/unit/test_onnx_export.py checks that the
    result is byte for byte `optimize`'s on every preset and on sampled candidates of every space.
    """
    import onnx_ir as ir
    import onnx_ir.passes.common as common

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ir.serde.deserialize_model(model)
        ir.passes.Sequential(
            common.InlinePass(),
            ir.passes.PassManager([_fold_constants_pass(), _rewrite_pass(), common.RemoveUnusedNodesPass(),
                                   common.RemoveUnusedFunctionsPass(), common.RemoveUnusedOpsetsPass()],
                                  steps=2, early_stop=True),
            common.RemoveUnusedNodesPass(),
            common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
            common.LiftSubgraphInitializersToMainGraphPass(),
            common.DeduplicateInitializersPass(),
            common.CommonSubexpressionEliminationPass(),
            common.OutputFixPass(),
            common.NameFixPass(),
        )(m)
        out = ir.serde.serialize_model(m)
    # Static shapes on every value: the IR loader and ORT's quantiser both read them.
    out = onnx.shape_inference.infer_shapes(out, strict_mode=True)
    return onnx.shape_inference.infer_shapes(_views_to_reshape(out), strict_mode=True)


def _rewrite_pass():
    from onnxscript.rewriter import RewritePass
    from onnxscript.rewriter.rules import common as rules

    # The BatchNorm fusions: an LMUFormer's patch embedding is Conv/Linear + BatchNorm.
    return RewritePass([rules.fuse_batchnorm_into_conv_rule, rules.fuse_batchnorm_into_conv_transpose_rule,
                        rules.fuse_batchnorm_into_gemm_rule])


def _fold_constants_pass():
    import onnx_ir as ir
    import onnxscript.optimizer

    class FoldConstants(ir.passes.InPlacePass):
        """onnxscript's constant folder with node-level shape inference, as `optimize` runs it."""

        def call(self, m):
            return ir.passes.PassResult(m, onnxscript.optimizer.fold_constants(m, onnx_shape_inference=True).modified)

    return FoldConstants()


_VIEW_OPS = ("Unsqueeze", "Squeeze", "Flatten")


def _static_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    g = model.graph
    shapes = {}
    for vi in [*g.value_info, *g.input, *g.output]:
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    return shapes


def _views_to_reshape(model: onnx.ModelProto) -> onnx.ModelProto:
    """Unsqueeze/Squeeze/Flatten with a static output shape -> Reshape to a constant shape.

    They only relabel the shape of contiguous data; one view op (Reshape) means one
    rule for the IR loader and the planner (a view aliases its input buffer).
    """
    from onnx import helper, numpy_helper

    shapes = _static_shapes(model)
    g = model.graph
    nodes = []
    for n in g.node:
        if n.op_type in _VIEW_OPS and n.output[0] in shapes:
            const = f"{n.output[0]}__shape"
            g.initializer.append(numpy_helper.from_array(np.array(shapes[n.output[0]], np.int64), const))
            n = helper.make_node("Reshape", [n.input[0], const], list(n.output), name=n.name or n.output[0])
        nodes.append(n)
    seen = set()
    for k, n in enumerate(nodes):  # unique names: quantisation excludes nodes by name
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{k}"
        seen.add(n.name)
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    keep = [t for t in g.initializer if t.name in used]  # axes constants of the replaced ops
    del g.initializer[:]
    g.initializer.extend(keep)
    return model


def export_onnx(model: torch.nn.Module, spec, path: str | Path,
                samples: np.ndarray | None = None) -> dict[str, Any]:
    """Export `model` (built from `spec`) to `path` and check it against torch.

    `samples`: a few real inputs, one per row (N x C x H x W images or N x T x F
    sequences); without them, seeded standard-normal inputs are used and the
    result says so. Raises EdgeformerError when onnxruntime and torch differ by
    more than TOLERANCE. Returns {"path", "opset", "inputs", "outputs",
    "state_shapes" (streaming only), "ops", "check": {"max_abs_diff", "inputs", ...}}.
    """
    model = model.eval()
    samples, source = _check_samples(spec, samples)
    if is_streaming(spec):
        ins, outs, states = step_io_names(model)
        step = StepModule(model).eval()
        x0 = torch.from_numpy(samples[0, 0:1])  # 1 x F
        args = (x0, *[t for _, t in flatten_state(step.template)])
        proto = _torch_export(step, args, ins, outs)
    else:
        ins, outs, states = ["input"], ["logits"], []
        proto = _torch_export(model, (torch.from_numpy(samples[:1]),), ins, outs)
    proto = simplify(proto)
    # Provenance for whatever reads the file later (the C emitter's "made from" header).
    from edgeformer import __version__
    from edgeformer.specs import spec_to_json

    proto.doc_string = f"edgeformer {__version__}: {spec.family} {'streaming step' if states else 'forward'}"
    onnx.helper.set_model_props(proto, {"edgeformer.version": __version__, "edgeformer.spec": spec_to_json(spec),
                                        "edgeformer.graph": "step" if states else "forward"})
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise EdgeformerError(f"exported ONNX for {spec.family} fails onnx.checker: {str(e).splitlines()[0]}") from None
    data = proto.SerializeToString()
    from edgeformer.export.onnx_check import check_step, check_forward  # noqa: E402 (small module, lazy)

    check = (check_step(model, data, samples, states) if states else check_forward(model, data, samples))
    check["source"] = source
    worst = max(check["max_abs_diff"], check.get("parallel_max_abs_diff", 0.0))
    if not worst <= TOLERANCE:
        raise EdgeformerError(f"ONNX export of {spec.family} disagrees with torch: max |diff| = {worst:.3g} "
                              f"> {TOLERANCE:g} over {check['inputs']} inputs; report this model spec as a bug")
    write_atomic(path, lambda fh: fh.write(data), mode="wb")
    return {"path": str(path), "opset": OPSET, "inputs": ins, "outputs": outs,
            "state_shapes": {k: list(s) for k, s in states}, "ops": op_histogram(proto), "check": check}


def _check_samples(spec, samples: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Validate the caller's samples (or draw seeded ones) as float32 N x input_shape."""
    want = tuple(spec.input_shape)
    if samples is None:
        rng = np.random.default_rng(0)
        return rng.standard_normal((DEFAULT_CHECK_SAMPLES, *want)).astype(np.float32), "random(seed=0)"
    samples = np.asarray(samples)
    if samples.ndim == len(want):
        samples = samples[None]
    if tuple(samples.shape[1:]) != want or samples.shape[0] < 1:
        got = "x".join(map(str, samples.shape[1:]))
        raise UserError(f"export check samples have shape {got}, the model expects "
                        f"{'x'.join(map(str, want))}; pass samples from the dataset the model was trained on")
    if not np.all(np.isfinite(samples)):
        raise UserError("export check samples contain NaN or inf; clean the dataset")
    return np.ascontiguousarray(samples, dtype=np.float32), "caller"
