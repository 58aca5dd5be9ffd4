"""The emitter registry: ONNX op type -> function that writes that node's C call.

One source of truth for "what ops does the native backend support": the loader's
unsupported-op error reads `supported_ops()`, and the conformance test selects its ONNX cases
by it (what the backend claims is pinned there too, tests/conformance/expected.py, so an
emitter that goes fails its cases instead of deselecting them).

An emitter is `fn(ctx: EmitCtx, node: Node) -> list[str]` (C statements that set `st`).
`const_inputs` names the input positions that must be constants at export time (shapes,
axes, indices): the loader folds them, and a model where they are computed at run time
gets a clear UserError from the emitter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgeformer.errors import UserError


@dataclass(frozen=True)
class Emitter:
    op: str
    fn: Callable
    const_inputs: tuple[int, ...] = ()


EMITTERS: dict[str, Emitter] = {}


def register(*ops: str, const_inputs: tuple[int, ...] = ()):
    """Decorator: `@register("Relu", "Sigmoid")` adds the function for those op types."""

    def deco(fn: Callable) -> Callable:
        for op in ops:
            if op in EMITTERS:
                raise ValueError(f"emitter for {op} registered twice")
            EMITTERS[op] = Emitter(op, fn, const_inputs)
        return fn

    return deco


def _load_all() -> None:
    # Importing the op modules fills EMITTERS (each module registers its ops).
    from edgeformer.export.emit import (ops_conv, ops_elementwise, ops_linear,  # noqa: F401
                                        ops_norm, ops_qint8, ops_qlinear, ops_quant,
                                        ops_reduce, ops_rowloop, ops_shape)
    from edgeformer.export.emit import ops_spike  # noqa: F401


def supported_ops(include_fused: bool = False) -> list[str]:
    """ONNX op types with an emitter (plus edgeformer's fused `ef.*` ops if asked)."""
    _load_all()
    return sorted(op for op in EMITTERS if include_fused or not op.startswith("ef."))


def get_emitter(op: str, node_name: str = "?") -> Emitter:
    _load_all()
    if op not in EMITTERS:
        raise UserError(f"unsupported op {op} (node {node_name}); supported: {supported_ops()}")
    return EMITTERS[op]
