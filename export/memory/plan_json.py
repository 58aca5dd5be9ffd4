"""The planner's part of plan.json: the arena figures and one row per placed buffer."""
from __future__ import annotations

from edgeformer.export.memory.buffers import BufferReq, Plan


def plan_buffers_json(buffers: list[BufferReq], plan: Plan) -> list[dict]:
    """The plan.json ``buffers`` list (sizes in bytes as requested, not rounded)."""
    return [{"name": b.name, "offset": plan.offsets[b.name], "size": b.size,
             "first_op": b.first_op, "last_op": b.last_op} for b in buffers]


def plan_to_dict(buffers: list[BufferReq], plan: Plan) -> dict:
    """The planner's part of plan.json; the exporter adds weights_bytes, macs, ..."""
    return {"arena_bytes": plan.arena_bytes, "liveness_bound_bytes": plan.liveness_bound_bytes,
            "no_reuse_bytes": plan.no_reuse_bytes, "strategy": plan.strategy,
            "alignment": plan.alignment, "buffers": plan_buffers_json(buffers, plan)}
