"""Batched runners over firmware in QEMU, in the shape runtime/verify.compare expects.

One QEMU process per batch, not per sample: in.bin holds every sample. Streaming firmware
steps whole sequences itself, keeping its state in static buffers as the MCU does; compare()
instead steps the model one call per time step with the state as I/O. SequenceReplay bridges
the two: it runs the whole sequences once, then answers compare()'s per-step calls from the
recorded outputs, checking that each call asks for the step it recorded.

Both take an `execute(in.bin bytes) -> out.bin bytes`: the semihosting image in QEMU
(`semihosted`), or the UART image, sim or flashed (runtime/commands.py builds those with the
inputs inside, since a board without a debugger cannot read files).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.errors import EdgeformerError
from edgeformer.runtime.artifact import Artifact
from edgeformer.runtime.qemu import QemuResult, pack_inputs, run_qemu


def _np(dtype: str):
    return np.bool_ if dtype == "bool" else np.dtype(dtype)


def unpack_outputs(raw: bytes, sig: dict, n: int, steps: int) -> list[np.ndarray]:
    """out.bin -> one array per output, shaped (n, steps, *shape)."""
    per = sum(o["bytes"] for o in sig["outputs"])
    if len(raw) != per * n * steps:
        raise EdgeformerError(f"firmware wrote {len(raw)} bytes of outputs; expected {per * n * steps} "
                              f"({n} samples x {steps} steps x {per} B)")
    flat = np.frombuffer(raw, np.uint8).reshape(n, steps, per)
    outs, pos = [], 0
    for o in sig["outputs"]:
        chunk = np.ascontiguousarray(flat[:, :, pos:pos + o["bytes"]])
        outs.append(chunk.view(_np(o["dtype"])).reshape(n, steps, *o["shape"]))
        pos += o["bytes"]
    return outs


Execute = Callable[[bytes], bytes]


def semihosted(elf: Path, machine: str, timeout: float) -> Execute:
    """The semihosting image in QEMU: in.bin in, out.bin back."""
    def execute(data: bytes) -> bytes:
        res: QemuResult = run_qemu(elf, machine, data, timeout)
        return res.out
    return execute


class FirmwareRunner:
    """inputs (each with a leading batch axis) -> outputs, for a one-shot (non-streaming) model."""

    def __init__(self, execute: Execute, sig: dict):
        self.execute, self.sig = execute, sig

    def __call__(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        arrs = [np.asarray(x, _np(io["dtype"])) for x, io in zip(xs, self.sig["inputs"])]
        out = self.execute(pack_inputs(arrs, 1))
        return [o[:, 0] for o in unpack_outputs(out, self.sig, len(arrs[0]), 1)]


class SequenceReplay:
    """Run sequences x (n, T, *step_shape) once; replay step t on compare()'s t-th call."""

    def __init__(self, execute: Execute, sig: dict, x: np.ndarray, quant: dict | None = None):
        from edgeformer.runtime.verify import quantize_io
        x0 = np.asarray(quantize_io(quant, x), _np(sig["inputs"][0]["dtype"]))   # export --io-dtype
        self.x, self.t = x0, 0
        self.outs = unpack_outputs(execute(pack_inputs([x0], x0.shape[1])), sig, x0.shape[0], x0.shape[1])

    def __call__(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        if self.t >= self.x.shape[1]:
            raise EdgeformerError(f"asked for step {self.t}; the firmware ran {self.x.shape[1]} steps")
        want = self.x[:, self.t].reshape(np.shape(xs[0]))
        if not np.array_equal(np.asarray(xs[0], want.dtype), want):
            raise EdgeformerError(f"step {self.t}: the caller's inputs differ from those the firmware ran")
        res = [o[:, self.t] for o in self.outs]
        self.t += 1
        return res


def run_compare(art: Artifact, execute: Execute, n: int) -> dict[str, Any]:
    """verify.compare() with the firmware (`execute`) as the candidate."""
    from edgeformer.runtime.verify import compare, sample_inputs

    if art.streaming:
        x, _ = sample_inputs(art, n)   # the same inputs compare() will draw
        runner = SequenceReplay(execute, art.signature, x, art.io_quant["inputs"][0])
    else:
        runner = FirmwareRunner(execute, art.signature)
    return compare(art, runner, n)
