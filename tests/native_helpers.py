"""Test helpers for the native C backend: plan a Graph with the real planner (alias hints
included), emit, build. The CLI's own planner glue lives with the lead's exporter."""
from __future__ import annotations

from pathlib import Path

from edgeformer.export.emit import alias_hints, emit_c
from edgeformer.export.ir import Graph


def plan_graph(graph: Graph, time_budget_s: float = 0.005) -> tuple[dict[str, int], int]:
    """(offsets, arena_bytes) for every activation of `graph`: the production lifetimes and
    in-place rules (export/lifetimes.py, the emitter's alias hints) and the production planner."""
    from edgeformer.export.lifetimes import buffer_requests  # noqa: PLC0415
    from edgeformer.export.planner import plan_buffers  # noqa: PLC0415

    plan = plan_buffers(buffer_requests(graph, alias_hints(graph)), time_budget_s=time_budget_s)
    return dict(plan.offsets), plan.arena_bytes


def emit_graph(graph: Graph, out_dir: Path, model_name: str = "model") -> list[Path]:
    offsets, arena = plan_graph(graph)
    return emit_c(graph, offsets, arena, out_dir, model_name=model_name)
