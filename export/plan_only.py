"""The export up to plan.json and no further: int8 QDQ model -> IR -> passes -> plan.

`lower_and_plan` is the one place where a reference ONNX becomes a plan. The exporter
(pipeline.lower_and_emit) emits C and the plot from its result; the search's memory model
(nas/memory.py) reads the figures and stops there.

`qdq_model` is `quantize.quantize_int8`'s onnxruntime call (same options, same ORT code
inserting the Q/DQ nodes) minus what a plan does not need: the int8-vs-float comparison,
the checker and the file round trips. The MinMax ranges are gathered in one session run
with every calibrated tensor as an output, instead of ORT's calibration graph (a
ReduceMin/ReduceMax pair per tensor, built in quadratic time): the same float32 min and
max, which ORT then reads from its calibration cache. tests/unit/test_plan_only.py checks
that the result is byte for byte quantize_int8's model.
"""
from __future__ import annotations

import os
import tempfile
import time
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from edgeformer.export.ir import Graph
from edgeformer.export.memory import BufferReq, Plan

if TYPE_CHECKING:   # the emitters load with make_plan, when a plan is made
    from edgeformer.export.emit.record import Emission

Feed = dict[str, np.ndarray]


@dataclass
class Lowered:
    """A reference model after the passes, and its arena plan."""

    graph: Graph            # after LOWERING + LOWERED (= PIPELINE): what the C runs
    unfused: Graph          # after LOWERING only: the baseline plan.json measures
    plan: dict[str, Any]    # plan.json's content
    buffers: list[BufferReq]
    placed: Plan
    emission: Emission | None   # the nodes as emitted at the plan (None: the native emitter cannot)
    seconds: dict[str, float]   # {"passes", "plan"}: where the time went


def lower_and_plan(reference: Any, io_dtype: str = "float32", prefix: str = "ef_model") -> Lowered:
    """Reference ONNX (path or ModelProto) -> IR -> PIPELINE -> make_plan (memory.plan_graph).
    `io_dtype` int8/uint8: the edge Q/DQ fold into the caller's data (passes/io_dtype.py).
    `prefix`: the C prefix of the weights.c arrays in the emission (the writer's
    c_names(...).weights), so the exporter writes this emission instead of emitting again."""
    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import LOWERED, LOWERING, run
    from edgeformer.export.plan import make_plan

    t0 = time.perf_counter()
    loaded = load_onnx(reference)
    unfused = run(loaded.replace(meta={**loaded.meta, "io_dtype": io_dtype}), LOWERING)
    graph = run(unfused, LOWERED)
    t1 = time.perf_counter()
    plan, bufs, placed, emission = make_plan(unfused, graph, prefix)
    return Lowered(graph, unfused, plan, bufs, placed, emission,
                   {"passes": t1 - t0, "plan": time.perf_counter() - t1})


def minmax_ranges(model: onnx.ModelProto, feeds: list[Feed], op_types: list[str]):
    """ORT's MinMax calibration result (TensorsData) for `model` on `feeds`: the tensors
    ORT's calibrator selects, each with the float32 min and max over all feeds."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, MinMaxCalibrater, TensorsData

    from edgeformer.export.onnx_check import session

    # ORT's own selection rule (inputs and outputs of nodes of the quantised op types).
    names, _ = MinMaxCalibrater.select_tensors_to_calibrate(types.SimpleNamespace(op_types_to_calibrate=op_types),
                                                            model)
    names = sorted(names)
    given = set(feeds[0])
    outs = [n for n in names if n not in given]
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    vis = {v.name: v for v in m.graph.value_info}
    m.graph.output.extend(vis[n] for n in outs if n not in have)
    sess = session(m.SerializeToString())
    seen: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for feed in feeds:
        got = dict(zip(outs, sess.run(outs, feed)))
        got.update({k: feed[k] for k in names if k in given})
        for n in names:
            seen[n].append(got[n])
    lo: dict[str, np.float32] = {}
    hi: dict[str, np.float32] = {}
    for n, arrays in seen.items():
        # One reduction per tensor over every feed (a streamed LMU gives one feed per step):
        # min/max are exact, so this is the per-feed NaN-skipping min/max in a tenth of the calls.
        v = np.concatenate([a.ravel() for a in arrays])
        lo[n], hi[n] = _nan_skipping(np.min, np.nanmin, v), _nan_skipping(np.max, np.nanmax, v)
    # Shape (1,) float32, as ORT's ReduceMin -> Reshape(-1) outputs give them.
    return TensorsData(CalibrationMethod.MinMax,
                       {n: (np.array([lo[n]], np.float32), np.array([hi[n]], np.float32)) for n in names})


def _nan_skipping(fast, nan_aware, v: np.ndarray):
    """nan_aware(v), through the cheaper `fast` when v holds no NaN (its result is then not NaN)."""
    r = fast(v)
    return nan_aware(v) if np.isnan(r) else r


def qdq_model(float_model: onnx.ModelProto, feeds: list[Feed]) -> onnx.ModelProto:
    """quantize_int8's int8 QDQ model of `float_model` calibrated on `feeds` (MinMax)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import save_tensors_data

    from edgeformer.export.quantize import DEFAULT_OP_TYPES, _quiet, excluded_nodes

    exclude, _ = excluded_nodes(float_model)
    ops = list(DEFAULT_OP_TYPES)
    with tempfile.TemporaryDirectory(prefix="edgeformer-plan-") as tmp, _quiet():
        cache, out = os.path.join(tmp, "ranges.json"), os.path.join(tmp, "model.int8.onnx")
        save_tensors_data(minmax_ranges(float_model, feeds, ops), cache)
        quantize_static(float_model, out, None, quant_format=QuantFormat.QDQ, op_types_to_quantize=ops,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=exclude, calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
                        calibration_cache_path=cache)
        return onnx.load(out)
