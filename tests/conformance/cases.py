"""ONNX backend node test cases that the native C backend should run, built once.

Selection: every op is in the emitter registry (or folds away: Constant/Shape/Size), and
every graph input is float32 (bool for Where/logical ops, int8/uint8 for Q/DQ) or sits at
an input position the emitter needs constant (shape, axes, pads, ...): those inputs are
frozen into initializers from the case's data, as an exporter with static shapes would.
"""
from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from edgeformer.errors import UserError
from edgeformer.export.emit.registry import EMITTERS, supported_ops
from edgeformer.export.load import load_onnx
from edgeformer.runtime.host import build_host_multi

FOLDS_AWAY = {"Constant", "Shape", "Size"}
RUNTIME_DTYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.BOOL}
QUANT_DTYPES = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
KNOWN_DTYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.BOOL, onnx.TensorProto.INT8,
                onnx.TensorProto.UINT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
                onnx.TensorProto.INT64}
CHUNK = 60  # models per compiler invocation


@dataclass
class Case:
    name: str
    model: onnx.ModelProto
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    rtol: float
    atol: float
    ops: tuple[str, ...]
    skip: str | None = None      # UserError from load/emit: a clear, reported rejection
    error: str | None = None     # anything else: a test failure
    exe: Path | None = None
    extra: dict = field(default_factory=dict)


def _collect():
    from onnx.backend.test.case.node import collect_testcases  # noqa: PLC0415
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return collect_testcases(None)


def _frozen(tc) -> tuple[onnx.ModelProto, list[np.ndarray]] | None:
    """The case's model with const-position inputs turned into initializers, or None when
    the case needs a runtime input the native backend does not take."""
    supported = set(supported_ops())
    g = tc.model.graph
    ops = {n.op_type for n in g.node}
    if not ops <= supported | FOLDS_AWAY or any(n.domain not in ("", "ai.onnx") for n in g.node):
        return None
    const_pos = {}
    for n in g.node:
        em = EMITTERS.get(n.op_type)
        for k, name in enumerate(n.input):
            if name and em and k in em.const_inputs:
                const_pos[name] = True
        if n.op_type in ("DequantizeLinear", "QuantizeLinear"):
            const_pos.setdefault(("q", n.input[0]), True)
    ins, outs = tc.data_sets[0]
    model = onnx.ModelProto()
    model.CopyFrom(tc.model)
    keep, runtime = [], []
    for vi, arr in zip(list(model.graph.input), ins):
        et = vi.type.tensor_type.elem_type
        if not vi.type.HasField("tensor_type"):
            return None
        if vi.name in const_pos:
            if not isinstance(arr, (np.ndarray, np.generic)) or np.asarray(arr).dtype == object \
                    or et not in KNOWN_DTYPES:
                return None  # float8/int4/... payloads: outside the native backend's dtypes
            model.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), vi.name))
            continue
        if et not in RUNTIME_DTYPES and not (et in QUANT_DTYPES and ("q", vi.name) in const_pos):
            return None
        keep.append(vi)
        runtime.append(np.asarray(arr))
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model, runtime


_SELECTED: list[Case] | None = None


def select_cases() -> list[Case]:
    """Selected cases (memoised: collecting onnx's cases takes ~15 s)."""
    global _SELECTED
    if _SELECTED is None:
        _SELECTED = _select()
    return _SELECTED


def _select() -> list[Case]:
    cases = []
    for tc in _collect():
        if tc.model is None or not tc.data_sets:
            continue
        fr = _frozen(tc)
        if fr is None:
            continue
        model, ins = fr
        outs = [np.asarray(o) for o in tc.data_sets[0][1]]
        if any(o.dtype == object for o in outs):
            continue
        cases.append(Case(tc.name, model, ins, outs, tc.rtol, tc.atol,
                          tuple(sorted({n.op_type for n in model.graph.node}))))
    return cases


def _c_name(name: str) -> str:
    return "c_" + re.sub(r"\W", "_", name)


def build_all(cases: list[Case], work: Path) -> None:
    """load -> plan -> emit every case, then compile them CHUNK at a time on 2 threads."""
    from tests.native_helpers import emit_graph  # noqa: PLC0415
    ready = []
    for c in cases:
        try:
            graph = load_onnx(c.model)
            emit_graph(graph, work / c.name, model_name=_c_name(c.name))
            ready.append(c)
        except UserError as e:
            c.skip = str(e)
        except Exception as e:  # noqa: BLE001 - reported per case as a failure
            c.error = f"{type(e).__name__}: {e}"
    chunks = [ready[i:i + CHUNK] for i in range(0, len(ready), CHUNK)]

    def build(k_chunk):
        k, chunk = k_chunk
        exe = work / f"chunk{k}.exe"
        try:
            build_host_multi([work / c.name for c in chunk], exe, extra_cflags=("-O1", "-Werror"))
            for c in chunk:
                c.exe = exe
        except Exception:  # noqa: BLE001 - find the culprits one by one
            for c in chunk:
                try:
                    c.exe = build_host_multi([work / c.name], work / c.name / "one.exe",
                                             extra_cflags=("-O1", "-Werror"))
                except Exception as e:  # noqa: BLE001
                    c.error = str(e)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(build, enumerate(chunks)))
