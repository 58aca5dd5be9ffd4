"""TFLite Micro's minimum arena for a zoo ViT preset: the peer column of bench/memory.py.

Runs in the peers venv (`make peers`: litert-torch pulls torch 2.14.1 and jax, kept out of
.venv). Prints one JSON line on stdout; everything the converters print goes to stderr.
    .venv-peers/bin/python bench/tflm_peer.py vit-tiny-ref [--quantize int8] [--calib x.npy]
Pipeline: the preset's ViT (seeded, untrained: the arena does not depend on weight values),
GELU rewritten with ops TFLM has -> litert-torch -> .tflite -> (int8) ai-edge-quantizer
static_wi8_ai8, calibrated -> bisect `arena_size` of the tflite_micro Python interpreter.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # edgeformer's models and data need only torch, numpy, scipy

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


class SigmoidGELU(nn.Module):
    """tanh-GELU as x*sigmoid(2u): TFLM has no GELU kernel. x*x*x, not x**3: no POW kernel either."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.5957691 * (x + 0.044715 * x * x * x))


def build_model(name: str) -> nn.Module:
    from edgeformer.models import build
    from edgeformer.specs import ViTSpec
    from edgeformer.zoo import preset
    spec = preset(name)
    if not isinstance(spec, ViTSpec):
        raise SystemExit(f"{name}: only ViT presets (ours exports LMUFormers as a streaming step graph)")
    torch.manual_seed(0)  # same seed as edgeformer's preset export
    model = build(spec).eval()
    for mod in list(model.modules()):
        for child_name, child in mod.named_children():
            if isinstance(child, nn.GELU):
                setattr(mod, child_name, SigmoidGELU())
    return model


def calibration(name: str, shape: tuple, calib: str | None, n: int = 32) -> tuple[np.ndarray, str]:
    """Real training inputs where the preset has a dataset (given as .npy by bench/memory.py,
    else loaded here: digits needs scikit-learn, absent from this venv), else seeded random."""
    if calib:
        xs = np.load(calib).astype(np.float32)[:n]
        return xs, f"{Path(calib).stem} ({len(xs)})"
    from edgeformer.zoo import DEFAULT_DATASETS
    ds_name = DEFAULT_DATASETS.get(name)
    if ds_name:
        try:
            from edgeformer.data import calibration_samples, load_dataset
            return calibration_samples(load_dataset(ds_name), n), f"{ds_name} train ({n})"
        except Exception as e:
            print(f"calibration: {ds_name} unavailable here ({e}); seeded random", file=sys.stderr)
    return np.random.default_rng(0).standard_normal((n, *shape)).astype(np.float32), f"random ({n})"


@contextlib.contextmanager
def fd_to(fd: int, target: int):
    """Point a C-level fd elsewhere: TFLM and the converters print from C++."""
    sys.stdout.flush(), sys.stderr.flush()  # Python's buffers first, to where they were meant
    saved = os.dup(fd)
    os.dup2(target, fd)
    try:
        yield
    finally:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)


def min_arena(tflite: bytes, hi: int = 1 << 16, cap: int = 64 << 20) -> int:
    """Smallest arena_size (bytes) with which TFLM allocates and invokes the model."""
    from tflite_micro import runtime

    def fits(n: int) -> bool:
        try:
            it = runtime.Interpreter.from_bytes(tflite, arena_size=n)  # AllocateTensors here
            for i in range(64):  # as many inputs as the model has
                try:
                    d = it.get_input_details(i)
                except Exception:
                    break
                it.set_input(np.zeros(d["shape"], d["dtype"]), i)
            it.invoke()
            return True
        except (RuntimeError, ValueError):
            return False

    with tempfile.TemporaryFile() as log:
        with fd_to(2, log.fileno()):  # one log line per failed try: keep them for an error only
            while not fits(hi):
                if hi >= cap:
                    log.seek(0)
                    msg = log.read().decode(errors="replace").strip().splitlines()
                    raise RuntimeError(f"TFLM does not run it even with {cap} bytes: "
                                       f"{' / '.join(dict.fromkeys(msg))[:300]}")
                hi *= 2
            lo = 0  # fits(lo) is False (or lo is 0)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def op_counts(tflite: bytes) -> dict[str, int]:
    from ai_edge_litert import interpreter as litert
    ops = litert.Interpreter(model_content=tflite)._get_ops_details()  # no public op list
    return dict(collections.Counter(o["op_name"] for o in ops).most_common())


def measure(name: str, quantize: str, calib: str | None) -> dict:
    from importlib.metadata import version

    import litert_torch
    model = build_model(name)
    shape = tuple(model.spec.input_shape)
    tflite = litert_torch.convert(model, (torch.zeros(1, *shape),)).model_content()
    converter = f"litert-torch {version('litert-torch')}"
    row = {"preset": name, "quantize": quantize}
    if quantize == "int8":
        from ai_edge_litert import interpreter as litert
        from ai_edge_quantizer import quantizer, recipe
        sig = litert.Interpreter(model_content=tflite).get_signature_list()
        key = next(iter(sig))
        (inp,) = sig[key]["inputs"]
        xs, row["calibration"] = calibration(name, shape, calib)
        qt = quantizer.Quantizer(tflite, recipe.static_wi8_ai8())
        result = qt.calibrate({key: [{inp: x[None]} for x in xs]}, num_threads=1)
        tflite = qt.quantize(result).quantized_model
        converter += f" + ai-edge-quantizer {version('ai-edge-quantizer')} static_wi8_ai8"
    row["tflm_min_arena_bytes"] = min_arena(bytes(tflite))
    row["converter"] = converter
    row["model_bytes"] = len(tflite)
    row["ops"] = op_counts(bytes(tflite))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset")
    ap.add_argument("--quantize", default="int8", choices=("int8", "float32"))
    ap.add_argument("--calib", help=".npy of calibration inputs, N x C x H x W "
                                    "(default: the preset's dataset, else seeded random)")
    args = ap.parse_args()
    out = os.fdopen(os.dup(1), "w")
    with fd_to(1, 2):  # the converters' progress output must not mix with the JSON line
        row = measure(args.preset, args.quantize, args.calib)
    print(json.dumps(row), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
