"""Inputs for a model we did not make: int8 calibration feeds and verify's test inputs.

What an input is comes from the model itself: its name, shape and dtype, and for an integer
input the embedding tables it indexes (Gather on an initializer, through Cast/Reshape-like
ops), which bound the valid ids. Integer inputs stay integers: token ids are drawn in
[0, rows of the smallest table they index), an attention mask is ones with a padded tail.

A dataset (npz) fills the model's first input: each sample is reshaped to the input's
shape when the element counts match (token ids stored N x T x 1, as the npz loader wants
3-D arrays, are read back as 1 x T) and cast to its dtype; other inputs get their neutral
value (mask ones, other ids zero, floats seeded normal).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeformer.errors import UserError

Feed = dict[str, np.ndarray]
PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand", "Slice"}


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    high: int | None = None          # integer inputs: ids are valid in [0, high)

    @property
    def is_int(self) -> bool:
        return np.issubdtype(self.dtype, np.integer)

    @property
    def is_mask(self) -> bool:
        return self.is_int and "mask" in self.name.lower()


def input_specs(onnx_path: str | Path) -> list[InputSpec]:
    """The model's real inputs (initializers excluded), with id ranges for integer ones."""
    import onnx
    m = onnx.load(str(onnx_path))
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    specs = []
    for vi in g.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type))
        shape = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tt.shape.dim)
        high = None
        if np.issubdtype(dtype, np.integer):
            rows = [inits[n.input[0]].dims[_axis(n)] for n in _reaches(vi.name, consumers) if n.input[0] in inits]
            high = int(min(rows)) if rows else None
        specs.append(InputSpec(vi.name, shape, dtype, high))
    return specs


def _axis(node) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 0)


def _reaches(name: str, consumers: dict) -> list:
    """Gather nodes indexed by `name`, directly or through shape-only ops."""
    found, stack, seen = [], [name], set()
    while stack:
        t = stack.pop()
        for n in consumers.get(t, []):
            if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == t:
                found.append(n)
            elif n.op_type in PASS_THROUGH and n.input and n.input[0] == t and n.output[0] not in seen:
                seen.add(n.output[0])
                stack.append(n.output[0])
    return found


def _random(spec: InputSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples (N, *shape) of one input: ids in range, masks padded at the end, floats normal."""
    shape = (n, *spec.shape)
    if spec.dtype == np.bool_:
        return np.ones(shape, np.bool_)
    if spec.is_mask:   # ones, with a padded tail of up to half the last axis (as a tokenizer pads)
        mask = np.ones(shape, spec.dtype)
        t = shape[-1]
        for i, pad in enumerate(rng.integers(0, t // 2 + 1, size=n)):
            if pad:
                mask[i, ..., t - pad:] = 0
        return mask
    if spec.is_int:
        return rng.integers(0, spec.high or 2, size=shape).astype(spec.dtype)
    return rng.standard_normal(shape).astype(spec.dtype)


def _neutral(spec: InputSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    shape = (n, *spec.shape)
    if spec.is_mask or spec.dtype == np.bool_:
        return np.ones(shape, spec.dtype)
    if spec.is_int:
        return np.zeros(shape, spec.dtype)
    return rng.standard_normal(shape).astype(spec.dtype)


def random_inputs(onnx_path: str | Path, n: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded batched inputs, one (N, *shape) array per model input."""
    rng = np.random.default_rng(seed)
    return [_random(s, n, rng) for s in input_specs(onnx_path)]


def dataset_inputs(onnx_path: str | Path, x: np.ndarray, label: str, seed: int = 0) -> list[np.ndarray]:
    """The dataset's samples as the model's first input (reshaped, cast), others neutral."""
    specs = input_specs(onnx_path)
    if not specs:
        raise UserError(f"{onnx_path} has no inputs to feed from {label}")
    first, x = specs[0], np.asarray(x)
    per = int(np.prod(first.shape))
    if x.size != len(x) * per:
        raise UserError(f"{label} gives samples of shape {tuple(x.shape[1:])} ({x.size // max(len(x), 1)} values), "
                        f"the model's input {first.name} is {'x'.join(map(str, first.shape))} ({per} values); "
                        f"pass a dataset whose samples match it")
    x = x.reshape(len(x), *first.shape)
    if first.is_int:
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise UserError(f"{label}: input {first.name} takes integer ids ({first.dtype}), the dataset holds "
                            f"non-integer values; store the ids as integers")
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or (first.high is not None and hi >= first.high):
            raise UserError(f"{label}: input {first.name} ids span {lo}..{hi}, the model's embedding table has "
                            f"{first.high} rows; ids must be in 0..{(first.high or 1) - 1}")
    x = x.astype(first.dtype)
    rng = np.random.default_rng(seed)
    return [x] + [_neutral(s, len(x), rng) for s in specs[1:]]


def to_feeds(onnx_path: str | Path, batched: list[np.ndarray]) -> list[Feed]:
    names = [s.name for s in input_specs(onnx_path)]
    n = len(batched[0]) if batched else 0
    return [{k: a[i] for k, a in zip(names, batched)} for i in range(n)]   # a[i] keeps the batch-1 axis


def random_feeds(onnx_path: str | Path, n: int = 64, seed: int = 0) -> list[Feed]:
    return to_feeds(onnx_path, random_inputs(onnx_path, n, seed))


def dataset_feeds(onnx_path: str | Path, x: np.ndarray, label: str) -> list[Feed]:
    return to_feeds(onnx_path, dataset_inputs(onnx_path, x, label))
