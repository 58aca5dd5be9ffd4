"""ONNX files from other exporters (torch dynamo/legacy, transformers, other teams): checked,
made self-contained and static, cleaned up, and calibrated for int8.

`import_onnx` is the one entry point for a foreign model: whatever the exporter wrote goes
in (weights in an external `.data` file, opset 13-21, symbolic batch/sequence dimensions,
shape arithmetic), a single-file `model.onnx` with static shapes that the rest of the
pipeline reads comes out. Steps, each a library call where a library does the job:

1. load, external data inlined (onnx.load_external_data_for_model, relative to the model);
2. check (onnx.checker) and convert opsets outside 13..21 (onnx.version_converter);
3. pin dynamic input dimensions from `--input-shape NAME=1x3x32x32`;
4. clean up: onnxscript's optimizer (constant folding with shape inference, so
   Shape/Size/ConstantOfShape/Range/Expand/Where chains on static shapes fold), then what
   it leaves: every node whose inputs are all constant is evaluated (onnx reference), and
   the exporter idioms no library rewrites (export/foreign_rewrite.py);
5. shape inference with static shapes on every value, and the model written whole.

Calibration and test inputs for such a model (token ids stay integers) are in
export/foreign_inputs.py; `calibration_feeds` here is what the pipeline calls.
"""
from __future__ import annotations

import collections
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.errors import UserError

MIN_OPSET, MAX_OPSET = 13, 21
TARGET_OPSET = 17          # what an opset below MIN is converted to (LayerNormalization is native from 17)
FOLD_LIMIT = 1 << 22       # elements: larger constant results stay computed at run time


def import_onnx(src: Path, dst: Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
    """Read `src` as an exporter wrote it and write the self-contained static model `dst`.

    Returns what export.json records about the import: producer, opset (source and
    final), inputs and outputs with their shapes and dtypes, op histogram, rewrites.
    """
    from edgeformer.export.foreign_rewrite import rewrite

    src, dst = Path(src), Path(dst)
    model = _load(src)
    producer = f"{model.producer_name} {model.producer_version}".strip()
    opset_in = _opset(model)
    model = _convert_opset(model, opset_in, src)
    model = set_input_shapes(model, input_shapes or {}, src)
    model = _check(model, src)
    model = clean(model)
    model, counts = rewrite(model)
    model = _infer(model, src)
    _save(model, dst)
    g = model.graph
    return {"path": str(dst), "source_file": str(src), "producer": producer, "opset_source": opset_in,
            "opset": _opset(model), "inputs": [_io(vi) for vi in _real_inputs(model)],
            "outputs": [_io(vi) for vi in g.output], "rewrites": counts,
            "ops": dict(sorted(collections.Counter(n.op_type for n in g.node).items())),
            "params": int(sum(np.prod(t.dims, dtype=np.int64) for t in g.initializer))}


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


def _load(src: Path):
    import onnx
    if src.is_dir():
        raise UserError(f"--onnx {src} is a folder; give the .onnx file inside it")
    try:
        model = onnx.load(os.fspath(src), load_external_data=False)
    except Exception as e:  # protobuf decode errors have no common base class
        raise UserError(f"{src} is not a valid ONNX model: {_first_line(e)}") from None
    from onnx.external_data_helper import _get_all_tensors, uses_external_data
    external = [t for t in _get_all_tensors(model) if uses_external_data(t)]
    if external:
        base = src.parent
        for t in external:
            loc = next((e.value for e in t.external_data if e.key == "location"), "")
            path = (base / loc).resolve()
            if not loc or not path.is_file():
                raise UserError(f"{src}: tensor {t.name} is stored in {base / loc}, which does not exist; keep "
                                f"the exporter's data file next to the model (torch writes {src.name}.data)")
        try:
            onnx.load_external_data_for_model(model, os.fspath(base))
        except Exception as e:
            raise UserError(f"{src}: cannot read its external weights: {_first_line(e)}") from None
    return model


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _convert_opset(model, opset: int, src: Path):
    if MIN_OPSET <= opset <= MAX_OPSET:
        return model
    import onnx
    target = TARGET_OPSET if opset < MIN_OPSET else MAX_OPSET
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = onnx.version_converter.convert_version(model, target)
    except Exception as e:
        raise UserError(f"{src} uses opset {opset}; converting it to {target} failed ({_first_line(e)}); "
                        f"export it again with opset_version between {MIN_OPSET} and {MAX_OPSET}") from None
    return out


def _real_inputs(model) -> list:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _dims(vi) -> list:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?")
            for d in vi.type.tensor_type.shape.dim]


def _io(vi) -> dict[str, Any]:
    import onnx
    et = vi.type.tensor_type.elem_type
    return {"name": vi.name, "shape": _dims(vi),
            "dtype": str(onnx.helper.tensor_dtype_to_np_dtype(et)) if et else "unknown"}


def set_input_shapes(model, shapes: dict[str, tuple[int, ...]], src: Path | str = "the model"):
    """Pin each input's dimensions: `shapes` where given (`--input-shape`), else refuse a
    dynamic dimension by input name and the flag. Value shapes inferred for the symbolic
    sizes are dropped (inference recomputes them from the pinned inputs)."""
    ins = _real_inputs(model)
    names = [vi.name for vi in ins]
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise UserError(f"--input-shape names {', '.join(unknown)}, which {src} has no input of; its inputs: "
                        f"{', '.join(names)}")
    changed = False
    for vi in ins:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise UserError(f"input {vi.name} of {src} is not a tensor; only tensor inputs are supported")
        dims = _dims(vi)
        if vi.name in shapes:
            want = tuple(shapes[vi.name])
            if tt.HasField("shape") and len(want) != len(dims):
                raise UserError(f"--input-shape {vi.name}={'x'.join(map(str, want))} has {len(want)} dimensions, "
                                f"input {vi.name} has {len(dims)} ({'x'.join(map(str, dims))})")
            for k, (d, w) in enumerate(zip(dims, want)):
                if isinstance(d, int) and d != w:
                    raise UserError(f"--input-shape {vi.name}: dimension {k} is fixed at {d} in the model, "
                                    f"not {w}; give {d} there")
            del tt.shape.dim[:]
            for w in want:
                tt.shape.dim.add().dim_value = int(w)
            changed = True
            continue
        if not tt.HasField("shape"):
            raise UserError(f"input {vi.name} of {src} has no shape; pass --input-shape {vi.name}=DIMS "
                            f"(e.g. 1x3x32x32)")
        dyn = [k for k, d in enumerate(dims) if not isinstance(d, int)]
        if dyn:
            example = "x".join(str(d) if isinstance(d, int) else "1" for d in dims)
            raise UserError(f"input {vi.name} has dynamic dimension(s) {', '.join(f'{k} ({dims[k]!r})' for k in dyn)}; "
                            f"pass --input-shape {vi.name}={example} (with the size you deploy)")
    if changed:
        del model.graph.value_info[:]
        for o in model.graph.output:   # symbolic output sizes: left for inference to fill
            if o.type.HasField("tensor_type") and o.type.tensor_type.HasField("shape"):
                for d in o.type.tensor_type.shape.dim:
                    if not d.HasField("dim_value"):
                        d.Clear()
    return model


def _check(model, src: Path):
    import onnx
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise UserError(f"{src} is not a valid ONNX model: {_first_line(e)}") from None
    return model


def clean(model, rounds: int = 4):
    """onnxscript's optimizer (folding with shape inference, dead code), then every node whose
    inputs are all constants folded into an initializer (what the optimizer's size limits and
    op list leave, e.g. ConstantOfShape/Expand of a cls token). Repeated while it removes
    nodes: a fold of ours can make a shape static (Swin's Pad by folded pads) whose Shape the
    optimizer then folds in turn."""
    import onnxscript.optimizer
    for _ in range(rounds):
        before = len(model.graph.node)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = onnxscript.optimizer.optimize(model, input_size_limit=FOLD_LIMIT,
                                                      output_size_limit=FOLD_LIMIT)
            except Exception:  # the optimiser is a clean-up: a model it cannot handle is still lowered as is
                pass
        model = fold_constant_nodes(model)
        if len(model.graph.node) >= before:
            break
    return model


NO_FOLD = {"DequantizeLinear", "QuantizeLinear", "RandomNormal", "RandomUniform", "RandomNormalLike",
           "RandomUniformLike", "Multinomial", "Bernoulli"}


def fold_constant_nodes(model):
    """Evaluate (onnx reference implementation) each node whose inputs are all initializers or
    Constant outputs; its outputs become initializers. Graph outputs are never folded away."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    g = model.graph
    consts = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    keep, new_inits = [], []
    opsets = list(model.opset_import)
    for node in g.node:
        ins = [n for n in node.input if n]
        foldable = (node.domain in ("", "ai.onnx") and node.op_type not in NO_FOLD
                    and not any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute)
                    and all(n in consts for n in ins) and not (set(node.output) & outputs))
        if node.op_type == "Constant" and not (set(node.output) & outputs):
            foldable = True
        if not foldable:
            keep.append(node)
            continue
        try:
            vals = _eval(node, {n: numpy_helper.to_array(consts[n]) for n in ins}, opsets, ReferenceEvaluator)
        except Exception:
            keep.append(node)
            continue
        if any(np.asarray(v).size > FOLD_LIMIT for v in vals):
            keep.append(node)
            continue
        for o, v in zip([o for o in node.output if o], vals):
            t = numpy_helper.from_array(np.asarray(v), o)
            consts[o] = t
            new_inits.append(t)
    if not new_inits:
        return model
    used = {i for n in keep for i in n.input} | outputs
    del g.node[:]
    g.node.extend(keep)
    inits = [t for t in list(g.initializer) + new_inits if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    return model


def _eval(node, feeds: dict, opsets, evaluator) -> list:
    import onnx
    g = onnx.helper.make_graph(
        [node], "fold",
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in feeds.items()],
        [onnx.helper.make_empty_tensor_value_info(o) for o in node.output if o])
    m = onnx.helper.make_model(g, opset_imports=opsets)
    return evaluator(m).run(None, feeds)


def _infer(model, src: Path):
    """Static shapes on every value (the IR loader and ORT's quantiser read them)."""
    import onnx
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as e:
        raise UserError(f"{src}: shape inference failed after the clean-up ({_first_line(e)}); "
                        f"export it again with static shapes") from None


def _save(model, dst: Path) -> None:
    import onnx
    from onnx.external_data_helper import convert_model_from_external_data
    convert_model_from_external_data(model)   # every tensor inline: one self-contained file
    data = model.SerializeToString()
    if len(data) >= 2 ** 31:
        raise UserError(f"the model's weights need {len(data):,} B, more than one ONNX file holds (2 GiB); "
                        f"no microcontroller holds them either: make the model smaller")
    Path(dst).write_bytes(data)
    onnx.checker.check_model(os.fspath(dst))


def calibration_feeds(onnx_path: Path, ds, n: int = 256) -> tuple[list[dict[str, np.ndarray]], str]:
    """int8 calibration samples: the dataset's training split read as the model's inputs (token
    ids as integers), else seeded random inputs of each input's kind."""
    from edgeformer.export.foreign_inputs import dataset_feeds, random_feeds
    if ds is not None:
        return dataset_feeds(onnx_path, ds.x_train[:n], ds.name), ds.name
    return random_feeds(onnx_path, 64), "random(seed=0)"
