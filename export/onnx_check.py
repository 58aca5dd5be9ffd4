"""onnxruntime vs torch on real inputs: the numerics check of an exported model.

onnxruntime is the numerics truth for every later stage (C kernels, QEMU runs), so
the exported graph must compute what the trained torch model computes.
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import onnxruntime as ort
import torch


def session(model: bytes | str) -> ort.InferenceSession:
    """A CPU session with graph optimisation off: we check the graph as written, not ORT's rewrite."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1  # shared CI cores; the models are tiny
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def one_thread():
    """torch with one intra-op thread: batch-1 tensors gain nothing from threads, and on a
    busy machine OpenMP waits made one GELU call take milliseconds."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(n)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_forward(model: torch.nn.Module, onnx_bytes: bytes, samples: np.ndarray) -> dict[str, Any]:
    """Run each sample (batch 1) through onnxruntime and torch; max |logit diff| and top-1 agreement."""
    sess = session(onnx_bytes)
    worst, agree = 0.0, 0
    with one_thread():
        for x in samples:
            x1 = x[None]
            want = model(torch.from_numpy(x1)).numpy()
            (got,) = sess.run(["logits"], {"input": x1})
            worst = max(worst, _diff(got, want))
            agree += int(np.argmax(got) == np.argmax(want))
    return {"max_abs_diff": worst, "inputs": len(samples), "top1_agreement": agree / len(samples)}


def run_sequence(sess: ort.InferenceSession, seq: np.ndarray, state: list[np.ndarray]):
    """Stream one T x F sequence through a step session; yields (feed, logits_t) per step.

    The state fed back is onnxruntime's own output, as on the device; feeds are the
    (input, state) pairs that int8 calibration wants.
    """
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    for x_t in seq:
        feed = dict(zip(in_names, [x_t[None].astype(np.float32), *state]))
        logits, *state = sess.run(out_names, feed)
        yield feed, logits


def check_step(model: torch.nn.Module, onnx_bytes: bytes, samples: np.ndarray,
               states: list[tuple[str, tuple[int, ...]]]) -> dict[str, Any]:
    """Stream each T x F sample through onnxruntime and torch's `step`, comparing logits at
    every step; then compare the final-step logits with the parallel `forward`."""
    from edgeformer.export.onnx_export import flatten_state

    sess = session(onnx_bytes)
    worst, worst_parallel, worst_torch = 0.0, 0.0, 0.0
    with one_thread():
        for seq in samples:
            state = model.init_state(1)
            ort_state = [t.numpy() for _, t in flatten_state(state)]
            for (_, got), x_t in zip(run_sequence(sess, seq, ort_state), seq):
                want, state = model.step(torch.from_numpy(x_t[None]), state)
                worst = max(worst, _diff(got, want.numpy()))
            parallel = model(torch.from_numpy(seq[None])).numpy()
            worst_parallel = max(worst_parallel, _diff(got, parallel))
            worst_torch = max(worst_torch, _diff(want.numpy(), parallel))
    return {"max_abs_diff": worst, "inputs": len(samples), "steps": int(samples.shape[1]),
            "parallel_max_abs_diff": worst_parallel, "torch_step_vs_parallel": worst_torch}
