"""Test helpers for the native C backend: plan a Graph with the real planner (alias hints
included), emit, build. The CLI's own planner glue lives with the lead's exporter."""
from __future__ import annotations

from pathlib import Path

from edgeformer.export.emit import alias_hints, emit_c
from edgeformer.export.ir import Graph


def plan_graph(graph: Graph, time_budget_s: float = 0.005) -> tuple[dict[str, int], int]:
    """(offsets, arena_bytes) for every activation of `graph`."""
    from edgeformer.export.planner import BufferReq, plan_buffers  # noqa: PLC0415

    last = len(graph.nodes) - 1
    first: dict[str, int] = {n: 0 for n in graph.inputs}
    end: dict[str, int] = {n: 0 for n in graph.inputs}
    for i, node in enumerate(graph.nodes):
        for t in node.inputs:
            if t in first:
                end[t] = i
        for t in node.outputs:
            if t and not graph.tensors[t].is_const:
                first.setdefault(t, i)
                end[t] = max(end.get(t, i), i)
    for t in graph.outputs:
        if t in first:
            end[t] = max(last, 0)
    hints = alias_hints(graph)
    reqs = []
    for t in first:
        src = hints.get(t)
        ok = src is not None and src in end and end[src] == first[t] and src not in graph.outputs
        reqs.append(BufferReq(t, max(graph.tensors[t].nbytes, 1), first[t], end[t],
                              alias_of=src if ok else None))
    plan = plan_buffers(reqs, alignment=16, time_budget_s=time_budget_s)
    return dict(plan.offsets), plan.arena_bytes


def emit_graph(graph: Graph, out_dir: Path, model_name: str = "model") -> list[Path]:
    offsets, arena = plan_graph(graph)
    return emit_c(graph, offsets, arena, out_dir, model_name=model_name)
