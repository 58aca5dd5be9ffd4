"""Memory planning, one owner: lifetimes, in-place rules, placement and the checker.

    plan_graph(graph, rules) -> Plan        the arena plan of a Graph (what everyone uses)
    plan_buffers(buffers) -> Plan           placement of explicit requests (the TVM backend)

buffers.py (requests, Plan, ALIGNMENT) · lifetimes.py (op order -> requests) · rules.py
(in-place rules) · placement.py (the planner) · check.py (validation, bound, overlap
checker) · graph_plan.py (plan_graph) · plan_json.py (plan.json's planner keys).
"""
from edgeformer.export.memory.buffers import ALIGNMENT, BufferReq, Plan, align_up
from edgeformer.export.memory.check import PlanError, check_plan, liveness_bound
from edgeformer.export.memory.graph_plan import plan_graph, plan_loop_body, planned_arena
from edgeformer.export.memory.lifetimes import buffer_requests, lifetimes, op_spans, scratch_name
from edgeformer.export.memory.placement import TIME_BUDGET_S, place_in_order, plan_buffers
from edgeformer.export.memory.plan_json import plan_buffers_json, plan_to_dict
from edgeformer.export.memory.rules import (IN_PLACE_RULES, InPlaceRule, inplace_map,
                                            reshape_aliases, token_overwrites)

__all__ = ["ALIGNMENT", "BufferReq", "IN_PLACE_RULES", "InPlaceRule", "Plan", "PlanError",
           "TIME_BUDGET_S", "align_up", "buffer_requests", "check_plan", "inplace_map", "lifetimes",
           "liveness_bound", "op_spans", "place_in_order", "plan_buffers", "plan_buffers_json",
           "plan_graph", "plan_loop_body", "plan_to_dict", "planned_arena", "reshape_aliases",
           "scratch_name", "token_overwrites"]
