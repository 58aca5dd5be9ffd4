"""Emit once: every node of a planned graph through its emitter, into one record per node.

The record is what the node costs and runs: the kernels it calls with their params, the C
statements, the constants it puts in weights.c (flash), its arena scratch and the fixed stack
arrays of its kernels. plan.json's flash figure, the search's latency features and the C
writer all read the same `Emission`, so the kernel choice is made in one place (the emitter).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from edgeformer.errors import EdgeformerError
from edgeformer.export.emit.ctx import RECORDING, EmitCtx, KernelCall
from edgeformer.export.emit.registry import get_emitter
from edgeformer.export.ir import Graph
from edgeformer.export.kernel_limits import kernel_stack_bytes


@dataclass(frozen=True)
class NodeRecord:
    """One top-level node as emitted (a row loop with its body's calls)."""

    index: int
    name: str
    op: str
    code: tuple[str, ...]              # the C statements (they set `st`); empty for a zero-copy alias
    calls: tuple[KernelCall, ...]      # in the order the code makes them
    consts: tuple[str, ...]            # keys of the weights.c arrays this node added
    const_bytes: int                   # their bytes: this node's share of flash
    scratch_bytes: int                 # arena scratch the plan gives the node
    stack_bytes: int                   # the largest fixed stack arrays of its kernels

    def calls_of(self, node_name: str) -> tuple[KernelCall, ...]:
        """The calls made for `node_name` (this node, or a body node of this row loop)."""
        return tuple(c for c in self.calls if c.node == node_name)


@dataclass(frozen=True)
class Emission:
    """A graph emitted at one plan's offsets with one C symbol prefix for its constants.
    Invariant: nodes[i] is graph.nodes[i]; weights holds every constant the nodes read, in
    first-use order (weights.c's order), {key: (C name, data)}."""

    prefix: str
    offsets: dict[str, int]
    nodes: tuple[NodeRecord, ...]
    weights: dict[str, tuple[str, np.ndarray]]

    @property
    def weights_bytes(self) -> int:
        """Bytes of the const arrays the nodes put in weights.c (what goes to flash)."""
        return sum(int(d.nbytes) for _, d in self.weights.values())

    def matches(self, prefix: str, offsets: Mapping[str, int]) -> bool:
        return self.prefix == prefix and self.offsets == dict(offsets)


def emit_nodes(graph: Graph, offsets: Mapping[str, int], prefix: str = "ef_model") -> Emission:
    """Run every node's emitter once at `offsets`; UserError for a node the native backend
    cannot emit (it names the node). `prefix`: the C prefix of the weights.c arrays, the
    writer's c_names(...).weights."""
    ctx = EmitCtx(graph, offsets, prefix=prefix)
    records = []
    for i, node in enumerate(graph.nodes):
        ctx.node = node
        before = len(ctx.weights)
        calls: list[KernelCall] = []
        token = RECORDING.set(calls)
        try:
            code = get_emitter(node.op, node.name).fn(ctx, node)
        finally:
            RECORDING.reset(token)
        added = tuple(list(ctx.weights)[before:])
        records.append(NodeRecord(
            i, node.name, node.op, tuple(code), tuple(calls), added,
            sum(int(ctx.weights[k][1].nbytes) for k in added),
            int(node.attrs.get("scratch_bytes", 0) or 0),
            max((kernel_stack_bytes(c.kernel) for c in calls), default=0)))
    return Emission(prefix, dict(offsets), tuple(records), dict(ctx.weights))


def try_emit_nodes(graph: Graph, offsets: Mapping[str, int], prefix: str = "ef_model") -> Emission | None:
    """emit_nodes, or None when the native emitter cannot emit `graph` (a model only the TVM
    backend takes): plan.json then counts the graph's own constants."""
    try:
        return emit_nodes(graph, offsets, prefix)
    except EdgeformerError:
        return None
