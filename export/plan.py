"""plan.json: the static arena plan and the figures it is judged by (the search's memory model)."""
from __future__ import annotations

from typing import Any

from edgeformer.export.ir import Graph
from edgeformer.export.lifetimes import buffer_requests
from edgeformer.export.macs import graph_macs
from edgeformer.export.plancheck import align_up
from edgeformer.export.planner import BufferReq, Plan, liveness_bound, plan_buffers, plan_to_dict

ALIGNMENT = 16


def _const_ids(graph: Graph) -> dict[int, int]:
    """{id(array): bytes} of constants the nodes read, fused bodies included (one array = one copy)."""
    found: dict[int, int] = {}
    for n in graph.nodes:
        for name in n.inputs:
            t = graph.tensors.get(name) if name else None
            if t is not None and t.is_const:
                found[id(t.data)] = t.nbytes
        # Row-sliced constants (e.g. a position embedding) are read by a loop but not inputs.
        for m in n.attrs.get("row_inputs", ()):
            t = graph.tensors.get(m.get("outer"))
            if t is not None and t.is_const:
                found[id(t.data)] = t.nbytes
        body = n.attrs.get("body")
        if isinstance(body, Graph):
            found.update(_const_ids(body))
    return found


def weights_bytes(graph: Graph) -> int:
    """Bytes of constants the nodes read (they go to flash)."""
    return sum(_const_ids(graph).values())


def make_plan(unfused: Graph, graph: Graph, inplace: dict[str, str]) -> tuple[dict[str, Any], list[BufferReq], Plan]:
    """Plan `graph` (after passes) and measure `unfused` (the exported graph, no fusion or overwriting).

    Returns (plan.json content, the buffer requests, the placed Plan). The placed plan has
    already passed the overlap checker (plan_buffers runs it on every plan)."""
    bufs = buffer_requests(graph, inplace)
    placed = plan_buffers(bufs, alignment=ALIGNMENT)
    base = buffer_requests(unfused)
    d = plan_to_dict(bufs, placed)
    d.update({
        "unfused_liveness_bound_bytes": liveness_bound(base, ALIGNMENT),
        "no_reuse_bytes": sum(align_up(b.size, ALIGNMENT) for b in base),
        "weights_bytes": weights_bytes(graph),
        "macs": graph_macs(graph),
        "ops": len(graph.nodes),
        "unfused_ops": len(unfused.nodes),
    })
    return d, bufs, placed
