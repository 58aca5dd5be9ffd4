"""Float ONNX -> int8 QDQ ONNX, calibrated on real data (onnxruntime static quantisation).

Scheme (the CMSIS-NN / TFLite-Micro int8 scheme, so the C kernels can follow it):
- weights: int8, symmetric (zero point 0), per output channel — no zero-point
  cross terms in the int32 accumulator, and per-channel scales keep small filters
  from being crushed by the largest one;
- activations: int8, asymmetric (per-tensor scale and zero point) — after GELU,
  Softmax or a spike the range is one-sided, and a symmetric scale would spend
  half of the 256 levels on values that never occur;
- QDQ format: the graph keeps its float ops with QuantizeLinear/DequantizeLinear
  pairs around them, so the IR loader reads one quantisation parameter set per
  tensor and ops left in float (LayerNormalization, Erf) stay visible as such;
- calibration: MinMax over a few hundred real samples (see `quantize_int8` for the
  Percentile comparison).

Step models (LMUFormer streaming) calibrate on (input, state) pairs gathered by
running real sequences step by step: the state ranges differ per step, so a
subsample over all steps is what the MCU will see. Accumulating states (LMU
memory, pooling sum, LIF membrane) stay float, see `recurrent_nodes`.

Measured (onnxruntime int8 vs float, top-1 agreement, trained models, MinMax):
vit-digits 20 epochs 1.000 on the 360 test images; lmuformer-fsdd 3 epochs 0.99 and
spiking-lmuformer-fsdd 3 epochs 0.99 at the last step of 100 test sequences.
"""
from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import onnx
import torch
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

from edgeformer.errors import EdgeformerError, UserError
from edgeformer.export.onnx_check import one_thread, run_sequence, session
from edgeformer.fsio import write_atomic

Feed = dict[str, np.ndarray]

# Ops quantised to int8 (QDQ around their inputs/outputs). LayerNormalization and the GELU
# chain (Erf, see `gelu_nodes`) stay float between int8 tensors: CMSIS-NN has no int8 kernel
# for them, and on vit-digits int8 LayerNorm lowered top-1 agreement (0.986 vs 1.0).
DEFAULT_OP_TYPES = ("Conv", "Gemm", "MatMul", "Add", "Mul", "Softmax", "Reshape", "Transpose", "Slice", "Concat")
METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile}


class _Reader(CalibrationDataReader):
    """Hands onnxruntime's calibrator one feed dict at a time."""

    def __init__(self, feeds: list[Feed]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> Feed | None:
        return next(self._it, None)


def _input_specs(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    init = {t.name for t in model.graph.initializer}
    return {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim)
            for i in model.graph.input if i.name not in init}


def _input_dtypes(model: onnx.ModelProto) -> dict[str, np.dtype]:
    """Each input's numpy dtype: float32 for our models, int64 for a foreign model's token ids."""
    init = {t.name for t in model.graph.initializer}
    return {i.name: np.dtype(onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type))
            for i in model.graph.input if i.name not in init}


def as_feeds(model_path: str | Path, calib: list[Feed] | np.ndarray, max_feeds: int = 512, seed: int = 0) -> list[Feed]:
    """Normalise calibration inputs to a list of feed dicts and check them.

    An ndarray is a batch of samples: images (N x C x H x W) for a one-input model,
    sequences (N x T x F) for a step model, streamed through the float model to
    gather (input, state) pairs (at most `max_feeds`, seeded subsample).
    """
    header = onnx.load(str(model_path), load_external_data=False)
    specs, dtypes = _input_specs(header), _input_dtypes(header)
    if isinstance(calib, np.ndarray):
        calib = _array_feeds(model_path, specs, calib, max_feeds, seed)
    if not isinstance(calib, (list, tuple)) or not calib:
        raise UserError("int8 calibration needs at least one input sample; pass real samples with --calib-dataset")
    for k, feed in enumerate(calib):
        if not isinstance(feed, dict) or set(feed) != set(specs):
            got = sorted(feed) if isinstance(feed, dict) else type(feed).__name__
            raise UserError(f"calibration input {k}: has {got}, the model's inputs are {sorted(specs)}; "
                            f"build feeds with calibration_inputs()")
        for name, want in specs.items():
            x, dtype = feed[name], dtypes[name]
            if not isinstance(x, np.ndarray) or x.dtype != dtype or tuple(x.shape) != want:
                got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, np.ndarray) else type(x).__name__
                raise UserError(f"calibration input {k}, tensor {name!r}: got {got}, want {dtype} {want}")
            if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
                raise UserError(f"calibration input {k}, tensor {name!r} contains NaN or inf; clean the dataset")
    return list(calib)


def _array_feeds(model_path, specs: dict, x: np.ndarray, max_feeds: int, seed: int) -> list[Feed]:
    x = x.astype(np.float32, copy=False)
    if len(specs) == 1:  # forward model: one sample per feed, batch axis 1
        (name, want), = specs.items()
        if tuple(x.shape[1:]) != want[1:]:
            raise UserError(f"calibration samples have shape {x.shape[1:]}, the model input {name!r} is {want[1:]} per sample")
        return [{name: x[i:i + 1]} for i in range(len(x))]
    if x.ndim != 3 or (x.shape[2],) != specs["input"][1:]:
        raise UserError(f"calibration sequences have shape {x.shape[1:]}, the step model wants T x {specs['input'][1]}")
    sess = session(str(model_path))
    feeds = []
    for seq in x:
        state = [np.zeros(specs[i.name], np.float32) for i in sess.get_inputs()[1:]]
        feeds += [feed for feed, _ in run_sequence(sess, seq, state)]
    return _subsample(feeds, max_feeds, seed)


def _subsample(feeds: list, n: int, seed: int) -> list:
    if len(feeds) <= n:
        return feeds
    idx = np.sort(np.random.default_rng(seed).choice(len(feeds), size=n, replace=False))
    return [feeds[i] for i in idx]


def calibration_inputs(spec, model: torch.nn.Module, ds, n: int = 256, seed: int = 0) -> list[Feed]:
    """Feed dicts for int8 calibration from a dataset's training split.

    ViT: n images, {"input": 1 x C x H x W}. LMUFormer: real sequences streamed
    through `model.step` (torch, float), n (input, state) pairs subsampled over all
    steps; keys as in the exported step graph ("input", "state_in.<k>").
    """
    from edgeformer.data import calibration_samples
    from edgeformer.export.onnx_export import flatten_state, is_streaming, step_io_names

    if tuple(ds.input_shape) != tuple(spec.input_shape):
        raise UserError(f"calibration dataset {ds.name} gives inputs {ds.input_shape}, the model expects "
                        f"{tuple(spec.input_shape)}; pass the dataset the model was trained on")
    if not is_streaming(spec):
        return [{"input": x[None]} for x in calibration_samples(ds, n, seed)]
    ins, _, _ = step_io_names(model)
    # Enough sequences that n pairs span many utterances, not a few long ones.
    seqs = calibration_samples(ds, max(1, min(n, 64)), seed)
    feeds = []
    model = model.eval()
    with one_thread():
        for seq in seqs:
            state = model.init_state(1)
            for x_t in seq:
                x_t = torch.from_numpy(x_t[None])
                flat = [x_t] + [t for _, t in flatten_state(state)]
                feeds.append({k: v.numpy().copy() for k, v in zip(ins, flat)})
                _, state = model.step(x_t, state)
    return _subsample(feeds, n, seed)


_MOVES = frozenset({"Concat", "Slice", "Reshape", "Transpose"})  # requantising a moved value does not compound


def recurrent_nodes(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """Nodes doing arithmetic on a path state_in.<k> -> state_out.<k>, and those state keys.

    Such a state is an accumulator (LMU memory m_t = Ad m_{t-1} + Bd u_t, the running
    pooling sum, an LIF membrane): rounding it to int8 every step compounds the error
    over the sequence, so these nodes and their state stay float (int32/float on the MCU).
    A delay line (the causal-conv buffer: Concat + Slice) only moves values and stays int8.
    """
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    keep, keys = set(), []
    for out in g.output:
        if not out.name.startswith("state_out."):
            continue
        src = "state_in." + out.name[len("state_out."):]
        down, stack = set(), [src]  # values reachable from the state input
        while stack:
            for n in consumers[stack.pop()]:
                for o in n.output:
                    if o not in down:
                        down.add(o)
                        stack.append(o)
        up, stack = set(), [out.name]  # nodes the state output depends on, within `down`
        while stack:
            n = producer.get(stack.pop())
            if n is None or n.name in up or n.output[0] not in down:
                continue
            up.add(n.name)
            stack.extend(n.input)
        arith = {n.name for n in g.node if n.name in up and n.op_type not in _MOVES}
        if arith:
            keys.append(out.name[len("state_out."):])
            keep |= arith
    return sorted(keep), keys


def gelu_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes of each exported GELU, x * 0.5 * (1 + erf(x / sqrt 2)), as one float island.

    Quantising its inner Add/Mul would put int8 rounding inside one activation; kept
    float, the GELU reads one int8 tensor and writes one, so the C side can run it as a
    256-entry lookup table or as one float kernel.
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers = collections.defaultdict(list)
    for n in model.graph.node:
        for i in n.input:
            consumers[i].append(n)
    names = []
    for erf in (n for n in model.graph.node if n.op_type == "Erf"):
        pre = producer.get(erf.input[0])
        if pre is not None and pre.op_type in ("Div", "Mul"):
            names.append(pre.name)
        cur = erf.output[0]
        for _ in range(3):  # + 1, * x, * 0.5 in either order
            nxt = consumers.get(cur, [])
            if len(nxt) != 1 or nxt[0].op_type not in ("Add", "Mul"):
                break
            names.append(nxt[0].name)
            cur = nxt[0].output[0]
        names.append(erf.name)
    return names


def integer_island_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes computing from integer inputs (an attention mask made additive, position ids from
    token ids): they stay float. Quantised, a 0/-3.4e38 mask calibrated on unpadded samples
    would clip to 0 and padding would stop being masked; position ids would round.

    An island starts at a Cast from an integer or bool tensor that is computed from integer
    graph inputs alone (token ids, a mask), and grows through the nodes whose every run-time
    input is in it; the first node that mixes it with other activations (the Add of mask and
    attention scores) is kept float too, and the island stops there. A bool computed from
    float activations (a spiking model's threshold) is no island: its consumers quantise.
    """
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        inferred = model
    g = inferred.graph
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.value_info) + list(g.output)}
    elem.update({t.name: t.data_type for t in g.initializer})
    inits = {t.name for t in g.initializer}
    ints = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
            onnx.TensorProto.INT64, onnx.TensorProto.BOOL}
    island: set[str] = set()
    # Tensors computed from integer graph inputs (and constants) alone.
    from_ints = {i.name for i in g.input if elem.get(i.name) in ints and i.name not in inits}
    names: list[str] = []
    for n in g.node:   # graph order is topological: one pass suffices
        acts0 = [i for i in n.input if i and i not in inits]
        if acts0 and all(i in from_ints for i in acts0) and n.op_type != "Cast":
            from_ints.update(o for o in n.output if o)
        if n.op_type == "Cast" and elem.get(n.input[0]) in ints and n.input[0] in from_ints:
            island.update(n.output)
            names.append(n.name)
            continue
        acts = [i for i in n.input if i and i not in inits]
        hit = [i for i in acts if i in island]
        if not hit:
            continue
        names.append(n.name)
        if len(hit) == len(acts):
            island.update(o for o in n.output if o)
    return [x for x in names if x]


def excluded_nodes(float_model: onnx.ModelProto) -> tuple[list[str], Any]:
    """The nodes that stay float (recurrent state paths, GELU, integer islands) and the float
    state description: one rule for the export and for the search's memory model (plan_only)."""
    exclude, float_state = recurrent_nodes(float_model)
    exclude = sorted(set(exclude) | set(gelu_nodes(float_model)) | set(integer_island_nodes(float_model)))
    return exclude, float_state


def quantize_int8(float_onnx: str | Path, out_path: str | Path, calib_inputs: list[Feed] | np.ndarray,
                  per_channel: bool = True, *, eval_inputs: list[Feed] | np.ndarray | None = None,
                  method: str = "minmax", op_types: Iterable[str] = DEFAULT_OP_TYPES) -> dict[str, Any]:
    """Quantise `float_onnx` to int8 QDQ at `out_path` (written atomically).

    `eval_inputs` (default: the calibration feeds) are what the int8 model is judged on;
    for a step model an N x T x F array of sequences is streamed whole through both
    models, each carrying its own state as the MCU does, and judged at the last step.
    MinMax is the default: on vit-digits and lmuformer-tiny Percentile
    (99.999) gave no better top-1 agreement.

    Returns {"path", "ops" (op histogram), "method", "per_channel", "calib_inputs",
    "float_state" (state keys kept float), "eval_inputs", "top1_agreement",
    "max_abs_diff" (int8 vs float logits, onnxruntime both; for sequences, at the last
    step) and, for sequences, "steps", "top1_agreement_steps", "max_abs_diff_steps"}.
    """
    if method not in METHODS:
        raise UserError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")
    if not Path(float_onnx).is_file():
        raise UserError(f"float model {float_onnx} does not exist; export it first")
    try:
        float_model = onnx.load(str(float_onnx))
    except Exception as e:  # protobuf DecodeError and friends
        raise UserError(f"{float_onnx} is not a readable ONNX model ({type(e).__name__}); export it again") from None
    feeds = as_feeds(float_onnx, calib_inputs)
    exclude, float_state = excluded_nodes(float_model)
    extra = {"ActivationSymmetric": False, "WeightSymmetric": True}
    if method == "percentile":
        extra["CalibPercentile"] = 99.999
    with tempfile.TemporaryDirectory(prefix="edgeformer-q-") as tmp, _quiet():
        tmp_out = os.path.join(tmp, "model.int8.onnx")
        try:
            # No quant_pre_process: the export already carries static shapes on every value,
            # and its ORT optimisation step would rewrite 3-D MatMul+Add into Reshape/Gemm/Reshape.
            quantize_static(str(float_onnx), tmp_out, _Reader(feeds), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(op_types), per_channel=per_channel,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=exclude, calibrate_method=METHODS[method],
                            extra_options=extra)
        except Exception as e:  # onnxruntime raises bare Exceptions from deep inside
            raise EdgeformerError(f"int8 quantisation of {float_onnx} failed: {type(e).__name__}: {e}") from None
        q = onnx.load(tmp_out)
    onnx.checker.check_model(q)
    data = q.SerializeToString()
    if isinstance(eval_inputs, np.ndarray) and len(_input_specs(float_model)) > 1:
        agree = compare_sequences(str(float_onnx), data, eval_inputs)
    else:
        agree = int8_vs_float(str(float_onnx), data, feeds if eval_inputs is None else as_feeds(float_onnx, eval_inputs))
    write_atomic(out_path, lambda fh: fh.write(data), mode="wb")
    return {"path": str(out_path), "ops": dict(sorted(collections.Counter(n.op_type for n in q.graph.node).items())),
            "method": method, "per_channel": per_channel, "calib_inputs": len(feeds),
            "float_state": float_state, **agree}


@contextlib.contextmanager
def _quiet():
    """onnxruntime's quantiser prints progress to stdout and advice to the root logger;
    stdout belongs to `--json`, so both go quiet while it runs."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def int8_vs_float(float_model: str | bytes, int8_model: str | bytes, feeds: list[Feed]) -> dict[str, Any]:
    """Top-1 agreement and max |diff| of the int8 model against the float model, on the graph's
    own outputs: the first output gives the headline figures (our models: "logits"), and a
    model with several outputs also gets them per output under "outputs"."""
    fs, qs = session(float_model), session(int8_model)
    names = [o.name for o in fs.get_outputs()]
    agree, worst = np.zeros(len(names)), np.zeros(len(names))
    for feed in feeds:
        for k, (a, b) in enumerate(zip(fs.run(names, feed), qs.run(names, feed))):
            a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
            if a.size:
                agree[k] += float(np.mean(np.argmax(a, -1) == np.argmax(b, -1))) if a.ndim else float(a == b)
                worst[k] = max(worst[k], float(np.max(np.abs(a - b))))
    n = max(len(feeds), 1)
    out = {"eval_inputs": len(feeds), "top1_agreement": float(agree[0] / n), "max_abs_diff": float(worst[0])}
    if len(names) > 1:
        out["outputs"] = [{"name": nm, "top1_agreement": float(a / n), "max_abs_diff": float(w)}
                          for nm, a, w in zip(names, agree, worst)]
    return out


def compare_sequences(float_model: str | bytes, int8_model: str | bytes, seqs: np.ndarray) -> dict[str, Any]:
    """Stream N x T x F sequences through both step models, each with its own state.

    top1_agreement / max_abs_diff: the last step's logits (the utterance's class, what
    the application reads); *_steps: every step's (zero-padded lead-in steps included,
    where near-tied logits make agreement noisy).
    """
    fs, qs = session(float_model), session(int8_model)
    zeros = [np.zeros(i.shape, np.float32) for i in fs.get_inputs()[1:]]
    agree = agree_final = steps = 0
    worst = worst_final = 0.0
    for seq in np.asarray(seqs, np.float32):
        for (_, a), (_, b) in zip(run_sequence(fs, seq, list(zeros)), run_sequence(qs, seq, list(zeros))):
            agree += int(np.argmax(a) == np.argmax(b))
            worst = max(worst, float(np.max(np.abs(a - b))))
            steps += 1
        agree_final += int(np.argmax(a) == np.argmax(b))
        worst_final = max(worst_final, float(np.max(np.abs(a - b))))
    n = len(seqs)
    return {"eval_inputs": n, "steps": steps, "top1_agreement": agree_final / n, "max_abs_diff": worst_final,
            "top1_agreement_steps": agree / steps, "max_abs_diff_steps": worst}
