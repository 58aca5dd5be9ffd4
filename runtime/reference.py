"""`edgeformer reference`: the model on a GPU (or CPU) reference engine, against the MCU's outputs.

The MCU's outputs are the artifact's C code built for the host (the same code the firmware
runs, bit for bit: `run` checks the firmware against onnxruntime). Engines:
  onnxruntime  the reference (Q)ONNX, CUDAExecutionProvider on cuda;
  torch        the float torch model (rebuilt from the run or the seeded preset), on cuda;
  tvm          TVM Relax from the float ONNX, target cuda (dlight GPU schedules) or llvm.
No CUDA device (or an engine built without CUDA): it runs on CPU and says so in
`device_used` and `note`. Throughput is samples per second at batch 1 (per step for streaming).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.errors import UserError
from edgeformer.runtime.artifact import Artifact, open_artifact

Step = Callable[[list[np.ndarray]], list[np.ndarray]]   # one sample's inputs -> its outputs


def _drive(step: Step, meta: dict, x: np.ndarray, state_shapes: list[tuple]) -> tuple[np.ndarray, int]:
    """Outputs (n, classes) or (n, T, classes) and the number of step calls."""
    outs, calls = [], 0
    for sample in x:
        if not meta.get("streaming"):
            outs.append(step([sample[None].astype(np.float32)])[0][0])
            calls += 1
            continue
        state, seq = [np.zeros(s, np.float32) for s in state_shapes], []
        for x_t in sample:
            res = step([x_t[None].astype(np.float32), *state])
            seq.append(res[0][0])
            state = list(res[1:])
            calls += 1
        outs.append(np.stack(seq))
    return np.stack(outs), calls


def _ort(art: Path, meta: dict, device: str) -> tuple[Step, str, str]:
    import onnxruntime as ort
    have = ort.get_available_providers()
    cuda = device == "cuda" and "CUDAExecutionProvider" in have
    # Basic optimisations only: the extended level fuses Q/DQ pairs into QLinear kernels that
    # round their own way (15 int8 steps off the graph as written on vit-digits), and the
    # (Q)ONNX as written is what every other check in edgeformer takes as the truth.
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(str(art / meta["reference"]), so,
                                providers=["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda
                                else ["CPUExecutionProvider"])
    used = "cuda" if cuda and "CUDAExecutionProvider" in sess.get_providers() else "cpu"
    names = [i.name for i in sess.get_inputs()]
    note = "" if used == device else f"onnxruntime has no CUDAExecutionProvider here (providers: {', '.join(have)})"
    return (lambda xs: sess.run(None, dict(zip(names, xs)))), used, note


def _torch(art: Path, meta: dict, device: str) -> tuple[Step, str, str]:
    import torch

    from edgeformer.export.pipeline import resolve_source
    src = meta["source"]
    if src["kind"] not in ("run", "preset"):
        raise UserError(f"--engine torch needs an artifact exported from a run or a preset; {art} came from "
                        f"{src['kind']} {src['label']}: use --engine onnxruntime or tvm")
    model = resolve_source(src["label"] if src["kind"] == "run" else None,
                           src["label"] if src["kind"] == "preset" else None, None).model
    used = "cuda" if device == "cuda" and torch.cuda.is_available() else "cpu"
    note = "" if used == device else "torch sees no CUDA device"
    if meta.get("streaming"):
        from edgeformer.export.onnx_export import StepModule
        model = StepModule(model)
    model = model.to(used).eval()

    def step(xs):
        with torch.no_grad():
            res = model(*[torch.from_numpy(np.ascontiguousarray(a)).to(used) for a in xs])
        res = res if isinstance(res, (tuple, list)) else (res,)
        if used == "cuda":
            torch.cuda.synchronize()
        return [r.float().cpu().numpy() for r in res]
    return step, used, note + ("; " if note else "") + "float32 torch model vs the artifact's C outputs"


def _tvm(art: Path, meta: dict, device: str) -> tuple[Step, str, str]:
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    mod = from_onnx(onnx.load(str(art / "model.onnx")), keep_params_in_input=False)
    cuda = device == "cuda" and tvm.cuda(0).exist
    if cuda:
        from tvm import dlight as dl
        target = tvm.target.Target("cuda")
        with target:
            mod = relax.get_pipeline("zero")(mod)
            mod = dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                          dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)
        dev = tvm.cuda(0)
    else:
        target, dev = tvm.target.Target("llvm"), tvm.cpu(0)
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), dev)

    def step(xs):
        res = vm["main"](*[tvm.runtime.tensor(np.ascontiguousarray(a), dev) for a in xs])
        res = list(res) if isinstance(res, (tuple, list, tvm.ir.Array)) else [res]
        dev.sync()
        return [r.numpy() for r in res]
    note = "" if cuda or device == "cpu" else "TVM sees no CUDA device (or was built without CUDA)"
    return step, "cuda" if cuda else "cpu", note + ("; " if note else "") + "float32 model.onnx"


ENGINES = {"onnxruntime": _ort, "torch": _torch, "tvm": _tvm}


def _mcu_outputs(art: Artifact, x: np.ndarray, state_shapes: list[tuple]) -> np.ndarray:
    from edgeformer.runtime.host import build_host, run_host
    with tempfile.TemporaryDirectory(prefix="edgeformer-ref-") as tmp:
        exe = build_host(art.c_dir, Path(tmp) / "model", signature=art.signature)
        if not art.streaming:
            return run_host(exe, [x[:, None].astype(np.float32)])[0][:, 0]
        n, steps = len(x), []
        state = [np.zeros((n, *s), np.float32) for s in state_shapes]
        for t in range(x.shape[1]):
            res = run_host(exe, [x[:, t][:, None].astype(np.float32), *state])
            steps.append(res[0][:, 0])
            state = res[1:]
        return np.stack(steps, axis=1)


def reference(art: Path | Artifact, device: str, engine: str, n: int, repeats: int = 3) -> dict[str, Any]:
    from edgeformer.runtime.verify import sample_inputs

    if engine not in ENGINES:
        raise UserError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    opened = open_artifact(art)
    meta, art = opened.meta, opened.path
    x, provenance = sample_inputs(opened, n)
    state_shapes = opened.state_shapes
    step, used, note = ENGINES[engine](art, meta, device)
    _drive(step, meta, x[:1], state_shapes)          # warm-up (CUDA context, kernel compile)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        got, calls = _drive(step, meta, x, state_shapes)
        best = min(best, time.perf_counter() - t0)
    mcu = _mcu_outputs(opened, x, state_shapes)
    return {"engine": engine, "device": device, "device_used": used, "note": note, "inputs": int(len(x)),
            "input_source": provenance, "steps_per_input": calls // len(x), "seconds": best,
            "throughput_per_s": calls / best, "max_abs_diff": float(np.max(np.abs(got.astype(np.float64) - mcu))),
            "top1_agreement": float(np.mean(got.reshape(len(x), -1, got.shape[-1])[:, -1].argmax(-1)
                                            == mcu.reshape(len(x), -1, mcu.shape[-1])[:, -1].argmax(-1)))}
