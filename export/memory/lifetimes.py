"""Lifetimes from the op order, and the buffer requests they give the planner.

Invariant: a tensor is live from the op that writes it (graph inputs: op 0, written by
the caller before the first op) to the last op that reads it (graph outputs: the last
op, read by the caller after it). An in-place rule `out -> in` becomes `alias_of` only
when the op writing `out` is the last reader of `in`, and `in` is not a graph output:
the only case where overwriting `in` cannot clobber a later read.

Kernel scratch: a node with `attrs["scratch_bytes"] > 0` gets a buffer named
`scratch_name(node)` live at that node only; its emitter reads the offset from the plan.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

from edgeformer.export.ir import Graph
from edgeformer.export.memory.buffers import BufferReq


def scratch_name(node_name: str) -> str:
    return f"{node_name}#scratch"


def op_spans(inputs: Iterable[str], ops: Iterable[tuple[Sequence[str], Sequence[str]]],
             outputs: Iterable[str], is_const: Callable[[str], bool]) -> dict[str, tuple[int, int]]:
    """{tensor: (first_op, last_op)} over a list of ops given as (inputs, outputs) name lists:
    the one lifetime rule, for our Graph and for the TVM backend's call list alike."""
    ops = list(ops)
    last = max(len(ops) - 1, 0)
    span: dict[str, list[int]] = {name: [0, 0] for name in inputs}
    for i, (ins, outs) in enumerate(ops):
        for name in ins:
            if name and not is_const(name):
                span.setdefault(name, [i, i])[1] = i
        for name in outs:
            if name and name not in span:
                span[name] = [i, i]
    for name in outputs:
        if name in span:
            span[name][1] = last
    return {k: (v[0], v[1]) for k, v in span.items()}


def lifetimes(graph: Graph) -> dict[str, tuple[int, int]]:
    """{tensor: (first_op, last_op)} for every activation a node or the caller touches."""
    return op_spans(graph.inputs, ((n.inputs, n.outputs) for n in graph.nodes), graph.outputs,
                    lambda name: graph.tensors[name].is_const)


def buffer_requests(graph: Graph, inplace: dict[str, str] | None = None) -> list[BufferReq]:
    """One BufferReq per activation, plus node scratch; `inplace` maps an output to the input
    it may overwrite (see the module docstring for when that becomes an alias)."""
    spans = lifetimes(graph)
    inplace = inplace or {}
    reqs = []
    for name, (first, last) in spans.items():
        src = inplace.get(name)
        alias = src if src in spans and spans[src][1] == first and src not in graph.outputs else None
        reqs.append(BufferReq(name=name, size=max(1, graph.tensors[name].nbytes), first_op=first,
                              last_op=last, alias_of=alias))
    for i, node in enumerate(graph.nodes):
        size = int(node.attrs.get("scratch_bytes", 0))
        if size > 0:
            reqs.append(BufferReq(name=scratch_name(node.name), size=size, first_op=i, last_op=i))
    return reqs
