"""Graph IR: what every pass, the planner and the C emitter see.

A Graph is ONNX lowered to fixed shapes: nodes in execution order, every
tensor with its static shape and dtype, constants as numpy arrays, and
quantisation parameters where the tensor is int8/uint8. Passes are pure
functions Graph -> Graph: they build new graphs (`Graph.replace`) and never
mutate the one they got.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

DTYPE_BYTES = {"float32": 4, "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "bool": 1}



# Ops that only re-view their input's bytes (same data, new shape): one definition.
RESHAPE_LIKE = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")

@dataclass(frozen=True)
class Tensor:
    """A value: activation (data is None) or constant (data holds it).

    Invariant: shape is fully static; `data`, when present, has exactly `shape` and `dtype`.
    `scale`/`zero_point` are set for quantised tensors (per-tensor: shape (); per-channel:
    shape (C,) along `quant_axis`).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    quant_axis: int | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Node:
    """One operator. `op` is the ONNX op type, or an edgeformer fused op (prefix `ef.`)."""

    op: str
    name: str
    inputs: tuple[str, ...]   # "" marks an omitted optional input, as in ONNX
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    """Nodes in execution order over named tensors.

    Invariant: every node input is a graph input, a constant, or the output of an
    earlier node; every tensor named anywhere is in `tensors`.
    """

    nodes: tuple[Node, ...]
    tensors: dict[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)   # source model, opset, producer

    def replace(self, **changes) -> "Graph":
        return dataclasses.replace(self, **changes)

    @cached_property
    def _edges(self) -> tuple[dict[str, Node], dict[str, list[Node]]]:
        """(producer, consumers) of every tensor, built once: the nodes never change (frozen),
        and passes ask these of every tensor (a scan per question was quadratic)."""
        producer: dict[str, Node] = {}
        consumers: dict[str, list[Node]] = {}
        for n in self.nodes:
            for t in n.outputs:
                producer.setdefault(t, n)
            for t in dict.fromkeys(n.inputs):   # a node reading a tensor twice is one consumer
                consumers.setdefault(t, []).append(n)
        return producer, consumers

    def producer(self, tensor: str) -> Node | None:
        return self._edges[0].get(tensor)

    def consumers(self, tensor: str) -> list[Node]:
        return list(self._edges[1].get(tensor, ()))

    def activations(self) -> list[Tensor]:
        """Tensors that need arena memory: everything that is not a constant."""
        return [t for t in self.tensors.values() if not t.is_const]

    def const(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        if t.data is None:
            raise KeyError(f"{name} is not a constant")
        return t.data
