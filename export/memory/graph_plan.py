"""plan_graph: a Graph's arena plan, the one way every part of edgeformer asks for one.

The exporter's shipped plan, the memory-saving step's cost, each row loop's body scratch, the
search's memory model and the tests all come through here, with the same lifetimes, the same
in-place rules and the same planner settings (TIME_BUDGET_S).
"""
from __future__ import annotations

import dataclasses

from edgeformer.export.ir import Graph
from edgeformer.export.memory.buffers import ALIGNMENT, Plan
from edgeformer.export.memory.lifetimes import buffer_requests
from edgeformer.export.memory.placement import TIME_BUDGET_S, plan_buffers
from edgeformer.export.memory.rules import IN_PLACE_RULES, InPlaceRule, inplace_map


def plan_graph(graph: Graph, rules: tuple[InPlaceRule, ...] = IN_PLACE_RULES,
               time_budget_s: float = TIME_BUDGET_S) -> Plan:
    """Every activation and node scratch buffer of `graph` placed in one arena; the plan has
    passed the overlap checker, and carries its buffer requests (Plan.buffers)."""
    return plan_buffers(buffer_requests(graph, inplace_map(graph, rules)), ALIGNMENT, time_budget_s)


def planned_arena(graph: Graph) -> int:
    """The arena plan_graph gives `graph`: the cost the memory-saving step minimises."""
    return plan_graph(graph).arena_bytes


def plan_loop_body(body: Graph, outer: set[str]) -> tuple[dict[str, int], int]:
    """(offsets, scratch bytes) of a row loop's body intermediates: every body tensor except
    `outer` (those live in the outer arena), one row of each at a time. An alias to an outer
    tensor is dropped (the body cannot place a tensor on the outer arena)."""
    reqs = [r for r in buffer_requests(body, inplace_map(body)) if r.name not in outer]
    names = {r.name for r in reqs}
    reqs = [r if r.alias_of in names else dataclasses.replace(r, alias_of=None) for r in reqs]
    if not reqs:
        return {}, 0
    plan = plan_buffers(reqs, ALIGNMENT, TIME_BUDGET_S)
    return dict(plan.offsets), plan.arena_bytes
