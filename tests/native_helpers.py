"""Test helpers for the native C backend: plan a Graph with the production planner
(export/memory: lifetimes, in-place rules, node scratch, settings), emit, build."""
from __future__ import annotations

from pathlib import Path

from edgeformer.export.emit import emit_c
from edgeformer.export.ir import Graph
from edgeformer.export.memory import plan_graph as production_plan


def plan_graph(graph: Graph) -> tuple[dict[str, int], int]:
    """(offsets, arena_bytes) of memory.plan_graph(graph), the plan the exporter would ship."""
    plan = production_plan(graph)
    return dict(plan.offsets), plan.arena_bytes


def emit_graph(graph: Graph, out_dir: Path, model_name: str = "model") -> list[Path]:
    offsets, arena = plan_graph(graph)
    return emit_c(graph, offsets, arena, out_dir, model_name=model_name)
