"""`edgeformer export`: model -> ONNX -> (int8) -> IR -> passes -> plan -> C, into one ART folder.

The artifact is assembled in a temp folder next to ART and renamed into place at the end,
so an interrupted or failed export leaves no half-written ART behind.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.errors import UserError
from edgeformer.fsio import write_json

ART_META = "export.json"


@dataclass
class Source:
    """What is being exported: a trained run, an (untrained, seeded) preset, or a foreign ONNX file."""

    kind: str                 # "run" | "preset" | "onnx"
    label: str
    spec: Any = None
    model: Any = None
    dataset: str | None = None
    onnx_path: Path | None = None


def resolve_source(run: str | None, preset_name: str | None, onnx_file: str | None) -> Source:
    given = [x for x in (run, preset_name, onnx_file) if x]
    if len(given) != 1:
        raise UserError("give exactly one of RUN, --model PRESET or --onnx FILE")
    if run:
        from edgeformer.checkpoint import load_run
        spec, model, metrics = load_run(run)
        return Source("run", str(run), spec, model, metrics.get("dataset"))
    if preset_name:
        import torch

        from edgeformer.models import build
        from edgeformer.zoo import DEFAULT_DATASETS, preset
        spec = preset(preset_name)
        torch.manual_seed(0)  # untrained weights, seeded: the memory plan does not depend on them
        return Source("preset", preset_name, spec, build(spec).eval(), DEFAULT_DATASETS.get(preset_name))
    path = Path(onnx_file)
    if not path.is_file():
        raise UserError(f"ONNX file {path} does not exist")
    return Source("onnx", str(path), onnx_path=path)


def _load_ds(name: str | None):
    if not name:
        return None
    from edgeformer.data import load_dataset
    return load_dataset(name)


def export_artifact(out: str | Path, source: Source, quantize: str = "int8", backend: str = "native",
                    calib_dataset: str | None = None, log=print) -> dict[str, Any]:
    """Write ART: model.onnx, model.int8.onnx (int8), c/, plan.json, plan.png, export.json."""
    if quantize not in ("int8", "float32"):
        raise UserError(f"--quantize {quantize!r}: choose int8 or float32")
    if backend not in ("native", "tvm"):
        raise UserError(f"--backend {backend!r}: choose native or tvm")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; pass a folder for --out")
    ds = _load_ds(calib_dataset or source.dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        meta = _build(tmp, source, quantize, ds, log, backend)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return meta


def _build(art: Path, source: Source, quantize: str, ds, log, backend: str = "native") -> dict[str, Any]:
    from edgeformer.export.onnx_export import export_onnx, is_streaming

    meta: dict[str, Any] = {"source": {"kind": source.kind, "label": source.label}, "quantize": quantize,
                            "backend": backend, "dataset": ds.name if ds is not None else None}
    if source.kind == "onnx":
        _check_foreign_onnx(source.onnx_path)
        shutil.copyfile(source.onnx_path, art / "model.onnx")
        meta["streaming"] = False
    else:
        if ds is not None and tuple(ds.input_shape) != tuple(source.spec.input_shape):
            raise UserError(f"dataset {ds.name} gives inputs {ds.input_shape}, the model expects "
                            f"{tuple(source.spec.input_shape)}; pass --calib-dataset matching the model")
        log("exporting ONNX and checking it against torch")
        samples = ds.x_test[:8] if ds is not None else None
        meta["onnx"] = export_onnx(source.model, source.spec, art / "model.onnx", samples=samples)
        meta["spec"] = source.spec.to_dict()
        meta["streaming"] = is_streaming(source.spec)
    reference = "model.onnx"
    if quantize == "int8":
        log("quantising to int8 (onnxruntime static QDQ, per-channel weights)")
        meta["int8"] = _quantize(art, source, ds)
        reference = "model.int8.onnx"
    meta["reference"] = reference
    log("lowering to the IR, planning the arena, emitting C")
    plan = lower_and_emit(art, art / reference, backend)
    meta["arena_bytes"] = plan["arena_bytes"]
    write_json(art / ART_META, meta)
    return {**meta, "plan": {k: v for k, v in plan.items() if k != "buffers"}}


def _check_foreign_onnx(path: Path) -> None:
    import onnx
    try:
        onnx.checker.check_model(str(path))
    except Exception as e:
        raise UserError(f"{path} is not a valid ONNX model: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


def _quantize(art: Path, source: Source, ds) -> dict[str, Any]:
    from edgeformer.export.quantize import calibration_inputs, quantize_int8

    if source.kind == "onnx" or ds is None:
        calib = _random_feeds(art / "model.onnx") if ds is None else ds.x_train[:256]
        info = quantize_int8(art / "model.onnx", art / "model.int8.onnx", calib)
        info["calibration"] = "random(seed=0)" if ds is None else ds.name
        return info
    calib = calibration_inputs(source.spec, source.model, ds, n=256)
    info = quantize_int8(art / "model.onnx", art / "model.int8.onnx", calib)
    info["calibration"] = ds.name
    return info


def _random_feeds(onnx_path: Path, n: int = 64) -> list[dict[str, np.ndarray]]:
    """Seeded normal inputs, for a model with no dataset: the plan is exact, accuracy is not judged."""
    from edgeformer.export.onnx_check import session
    sess = session(str(onnx_path))
    rng = np.random.default_rng(0)
    return [{i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
             for i in sess.get_inputs()} for _ in range(n)]


def lower_and_emit(art: Path, reference: Path, backend: str = "native") -> dict[str, Any]:
    """Reference ONNX -> IR -> passes -> plan.json + plan.png + c/. Returns the plan dict."""
    from edgeformer.export.emit.writer import emit_c
    from edgeformer.export.plan_only import lower_and_plan
    from edgeformer.export.planplot import plot_plan

    # The same function gives the search's memory model its figures (nas/memory.py).
    low = lower_and_plan(reference)
    plan, bufs, placed, graph = low.plan, low.buffers, low.placed, low.graph
    if backend == "tvm":
        # TVM's kernels run over Relax's own (differently fused) tensors: our planner lays those
        # out, and that is the arena the C really has; our IR's figures (unfused bound,
        # no_reuse, weights, macs) stay for comparison.
        from edgeformer.export.tvm_backend import TVM_PLAN_KEYS, emit_tvm_c
        tvm_plan, bufs, placed = emit_tvm_c(reference, art / "c")
        plan["native_arena_bytes"] = plan["arena_bytes"]
        plan.update({k: tvm_plan[k] for k in TVM_PLAN_KEYS})
    write_json(art / "plan.json", plan)
    plot_plan(bufs, placed, art / "plan.png", title=f"{reference.name}: arena {plan['arena_bytes']:,} B")
    if backend == "native":
        emit_c(graph, placed.offsets, placed.arena_bytes, art / "c")
    return plan
