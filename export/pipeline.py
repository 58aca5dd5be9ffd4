"""`edgeformer export`: model -> ONNX -> (int8) -> IR -> passes -> plan -> C, into one ART folder.

The artifact is assembled in a temp folder next to ART and renamed into place at the end,
so an interrupted or failed export leaves no half-written ART behind.
"""
from __future__ import annotations

import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from edgeformer.errors import UserError
from edgeformer.export.emit.ops_qlinear import core_features
from edgeformer.fsio import write_json

from edgeformer.export.outdir import ART_META  # noqa: F401  (re-exported: the artifact's signature file)


@dataclass
class Source:
    """What is being exported: a trained run, an (untrained, seeded) preset, or a foreign ONNX file."""

    kind: str                 # "run" | "preset" | "onnx"
    label: str
    spec: Any = None
    model: Any = None
    dataset: str | None = None
    onnx_path: Path | None = None
    input_shapes: dict[str, tuple[int, ...]] | None = None   # --input-shape NAME=1x3x32x32 (foreign ONNX)

    def provenance(self) -> dict[str, str]:
        """What model.h records as the source: the user's own file (absolute) and its sha256."""
        import hashlib
        if self.kind == "preset":
            return {"source": f"preset {self.label}"}
        path = Path(self.label) / "model.pt" if self.kind == "run" else self.onnx_path
        if path is None or not Path(path).is_file():
            return {"source": self.label}
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if self.label.startswith("python:"):   # the Python API's module, exported to a temp file
            return {"source": self.label, "source_sha256": digest}
        return {"source": str(Path(path).resolve()), "source_sha256": digest}

    def paths(self) -> list[Path]:
        """Files and folders of the user's that this export reads (never to be overwritten)."""
        if self.kind == "run":
            return [Path(self.label)]
        if self.kind == "onnx" and self.onnx_path is not None:
            return [self.onnx_path]
        return []


def resolve_source(run: str | None, preset_name: str | None, onnx_file: str | None,
                   input_shapes: dict[str, tuple[int, ...]] | None = None) -> Source:
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
    if path.is_dir():
        raise UserError(f"--onnx {path} is a folder; give the .onnx file inside it")
    if not path.is_file():
        raise UserError(f"ONNX file {path} does not exist")
    return Source("onnx", str(path), onnx_path=path, input_shapes=input_shapes)


def parse_input_shapes(items) -> dict[str, tuple[int, ...]] | None:
    """`--input-shape NAME=1x3x32x32` (repeatable) -> {NAME: (1, 3, 32, 32)}."""
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items or ():
        name, sep, dims = item.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 1:
            raise UserError(f"--input-shape {item!r}: write NAME=DIMS with positive sizes, e.g. input=1x3x32x32")
        shapes[name] = shape
    return shapes or None


def _load_ds(name: str | None, model=None):
    """The calibration dataset; `model` (a spec) decides how an npz's 3-D array is read."""
    if not name:
        return None
    from edgeformer.data import load_dataset
    return load_dataset(name, model=model)


def export_artifact(out: str | Path, source: Source, quantize: str = "int8", backend: str = "native",
                    calib_dataset: str | None = None, log=print, force: bool = False, board: str | None = None,
                    name: str | None = None, keep_dataset: bool = False, io_dtype: str = "float32") -> dict[str, Any]:
    """Write ART: model.onnx, model.int8.onnx (int8), c/, plan.json, plan.png, export.json.

    ART is checked first (export/outdir.py): only an earlier artifact, or with `force` a folder
    of the user's, is written into, and only our own files there are replaced.
    """
    from edgeformer.export import outdir

    if quantize not in ("int8", "float32"):
        raise UserError(f"--quantize {quantize!r}: choose int8 or float32")
    if backend not in ("native", "tvm"):
        raise UserError(f"--backend {backend!r}: choose native or tvm")
    check_io_dtype(io_dtype, quantize, backend)
    check_name(name)
    out = outdir.check_out(out, source.paths(), force)
    target = _load_board(board)
    ds = _load_ds(calib_dataset or source.dataset, source.spec)
    tmp = outdir.make_temp(out)
    try:
        # --board names the core: its weight layouts (Helium rows, Armv6-M bytes) where it has them
        with core_features(target.target.features) if target is not None else nullcontext():
            meta = _build(tmp, source, quantize, ds, log, backend, name, io_dtype)
        if keep_dataset and ds is not None:
            _keep_dataset(tmp, out, calib_dataset, meta)
        if target is not None:
            # The same check build makes before gcc: the plan against the RAM and flash regions.
            from edgeformer.runtime.actions import check_plan_fits
            check_plan_fits(meta["plan"], target)
        else:
            _warn_if_no_board_fits(meta, log)
        outdir.install(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return meta


def check_io_dtype(io_dtype: str, quantize: str, backend: str) -> None:
    """--io-dtype int8/uint8 folds the int8 model's edge Q/DQ into the caller's data."""
    if io_dtype not in ("float32", "int8", "uint8"):
        raise UserError(f"--io-dtype {io_dtype!r}: choose float32, int8 or uint8")
    if io_dtype != "float32" and quantize != "int8":
        raise UserError(f"--io-dtype {io_dtype} needs --quantize int8 (a float32 model has no int8 edges to fold)")
    if io_dtype != "float32" and backend != "native":
        raise UserError(f"--io-dtype {io_dtype} needs --backend native")


def check_name(name: str | None) -> None:
    if name is not None and not (name.isidentifier() and name.isascii()):
        raise UserError(f"--name {name!r} must be a C identifier (letters, digits, _; not starting with a digit)")


def _keep_dataset(art: Path, out: Path, name: str, meta: dict[str, Any]) -> None:
    """An npz the caller made in a temp folder (the Python API's array): ART keeps a copy, and
    export.json names that copy, so verify and run find the same samples later."""
    src = Path(name.removeprefix("npz:"))
    shutil.copyfile(src, art / "calib.npz")
    meta["dataset"] = f"npz:{(out / 'calib.npz').resolve()}"
    write_json(art / ART_META, {k: v for k, v in meta.items() if k != "plan"})


def _load_board(board: str | None):
    if board is None:
        return None
    from edgeformer.runtime.boards import load_board
    return load_board(board)


def _warn_if_no_board_fits(meta: dict[str, Any], log) -> None:
    from edgeformer.runtime.boards import list_boards
    arena, biggest = meta["plan"]["arena_bytes"], max(list_boards(), key=lambda b: b.sram_bytes)
    if arena > biggest.sram_bytes:
        log(f"[yellow]warning:[/] the arena needs {arena:,} B, more SRAM than any known board has (largest: "
            f"{biggest.name}, {biggest.sram_bytes:,} B); pass --board to check a fit")


def _build(art: Path, source: Source, quantize: str, ds, log, backend: str = "native",
           name: str | None = None, io_dtype: str = "float32") -> dict[str, Any]:
    from edgeformer.export.onnx_export import export_onnx, is_streaming

    meta: dict[str, Any] = {"source": {"kind": source.kind, "label": source.label}, "quantize": quantize,
                            "backend": backend, "dataset": ds.name if ds is not None else None}
    if source.kind == "onnx":
        from edgeformer.export.foreign import import_onnx
        meta["onnx"] = import_onnx(source.onnx_path, art / "model.onnx", source.input_shapes)
        meta["streaming"] = False
    else:
        if ds is not None and tuple(ds.input_shape) != tuple(source.spec.input_shape):
            raise UserError(f"dataset {ds.name} gives inputs {ds.input_shape}, the model expects "
                            f"{tuple(source.spec.input_shape)}; pass --calib-dataset matching the model")
        _check_finite(source)
        log("exporting ONNX and checking it against torch")
        samples = ds.x_test[:8] if ds is not None else None
        meta["onnx"] = export_onnx(source.model, source.spec, art / "model.onnx", samples=samples)
        meta["spec"] = source.spec.to_dict()
        meta["streaming"] = is_streaming(source.spec)
    reference = "model.onnx"
    if quantize == "int8":
        log("quantising to int8 (onnxruntime static QDQ, per-channel weights)")
        meta["int8"] = _quantize(art, source, ds, log)
        reference = "model.int8.onnx"
    meta["reference"] = reference
    for key, file in (("onnx", "model.onnx"), ("int8", "model.int8.onnx")):
        if isinstance(meta.get(key), dict) and "path" in meta[key]:
            meta[key]["path"] = file  # relative to ART: the temp folder it was written in is gone
    log("lowering to the IR, planning the arena, emitting C")
    plan, signature = lower_and_emit(art, art / reference, backend, name=name, provenance=source.provenance(),
                                     io_dtype=io_dtype)
    meta["name"] = name
    meta["io_dtype"], meta["io_quant"] = io_dtype, plan.get("io_quant")   # the C API's I/O (signature)
    meta["signature"] = signature   # what build, run, profile, verify and reference read (runtime/artifact.py)
    meta["arena_bytes"] = plan["arena_bytes"]
    write_json(art / ART_META, meta)
    return {**meta, "plan": {k: v for k, v in plan.items() if k != "buffers"}}


def _check_finite(source: Source) -> None:
    """A diverged run (NaN/inf weights) would quantise to garbage: refuse it by name."""
    import torch
    for pname, p in source.model.state_dict().items():
        if torch.is_floating_point(p) and not bool(torch.isfinite(p).all()):
            raise UserError(f"{source.label}: weight {pname} holds NaN or inf (training diverged); "
                            f"train again with a smaller --lr")


def _quantize(art: Path, source: Source, ds, log=print) -> dict[str, Any]:
    from edgeformer.export.quantize import calibration_inputs, quantize_int8

    if source.kind == "onnx" or ds is None:
        from edgeformer.export.foreign import calibration_feeds
        calib, label = calibration_feeds(art / "model.onnx", ds)
        if ds is None:
            log("[yellow]warning:[/] no --calib-dataset: int8 ranges come from seeded random inputs, so int8 "
                "accuracy is not judged; pass --calib-dataset npz:PATH with real samples (recorded in export.json)")
        info = quantize_int8(art / "model.onnx", art / "model.int8.onnx", calib)
        info["calibration"] = label
        return info
    calib = calibration_inputs(source.spec, source.model, ds, n=256)
    info = quantize_int8(art / "model.onnx", art / "model.int8.onnx", calib)
    info["calibration"] = ds.name
    return info


def lower_and_emit(art: Path, reference: Path, backend: str = "native", name: str | None = None,
                   provenance: dict[str, str] | None = None,
                   io_dtype: str = "float32") -> tuple[dict[str, Any], dict[str, Any]]:
    """Reference ONNX -> IR -> passes -> plan.json + plan.png + c/. Returns the plan dict and
    the C's signature (export/signature.py, for export.json).
    io_dtype int8/uint8: the graph's edge Q/DQ fold into the caller's data (passes/io_dtype.py);
    plan.json records the I/O (`io_quant`, `caller_io_bytes`: what the API makes the caller
    hold outside the arena)."""
    from edgeformer.export.emit.clib import c_names, io_record
    from edgeformer.export.emit.writer import emit_c
    from edgeformer.export.plan_only import lower_and_plan
    from edgeformer.export.planplot import plot_plan

    # The same function gives the search's memory model its figures (nas/memory.py). It emits
    # the nodes once, with the prefix weights.c will have: emit_c writes that emission.
    low = lower_and_plan(reference, io_dtype, prefix=c_names("model", name).weights)
    plan, bufs, placed, graph = low.plan, low.buffers, low.placed, low.graph
    plan.update(io_record(graph, io_dtype))
    if backend == "tvm":
        # TVM's kernels run over Relax's own (differently fused) tensors: our planner lays those
        # out, and that is the arena the C really has; our IR's figures (unfused bound,
        # no_reuse, weights, macs) stay for comparison.
        from edgeformer.export.tvm_backend import TVM_PLAN_KEYS, emit_tvm_c
        tvm_plan, bufs, placed = emit_tvm_c(reference, art / "c", name=name)
        plan["native_arena_bytes"] = plan["arena_bytes"]
        plan.update({k: tvm_plan[k] for k in TVM_PLAN_KEYS})
    write_json(art / "plan.json", plan)
    plot_plan(bufs, placed, art / "plan.png", title=f"{reference.name}: arena {plan['arena_bytes']:,} B")
    if backend == "native":
        emit_c(graph, placed.offsets, placed.arena_bytes, art / "c", name=name, provenance=provenance,
               emission=low.emission)
    from edgeformer.export.signature import artifact_signature
    ops = len(graph.nodes) if backend == "native" else plan["kernel_calls"]   # one EF_PROFILE_BEGIN per op
    return plan, artifact_signature(graph, reference, backend, name, io_dtype, ops)
