"""plan.json: the static arena plan and the figures it is judged by (the search's memory model)."""
from __future__ import annotations

from typing import Any

from edgeformer.export.emit.record import Emission, try_emit_nodes
from edgeformer.export.ir import Graph
from edgeformer.export.macs import graph_macs
from edgeformer.export.memory import (ALIGNMENT, BufferReq, Plan, align_up, buffer_requests,
                                      liveness_bound, plan_graph, plan_to_dict)


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
    """Bytes of constants the graph's nodes read, as the graph holds them."""
    return sum(_const_ids(graph).values())


def make_plan(unfused: Graph, graph: Graph,
              prefix: str = "ef_model") -> tuple[dict[str, Any], list[BufferReq], Plan, Emission | None]:
    """Plan `graph` (after passes; memory.plan_graph) and measure `unfused` (the exported
    graph, no fusion, no in-place rules at all).

    Returns (plan.json content, the buffer requests, the placed Plan, the emission). The placed
    plan has already passed the overlap checker (the planner runs it on every plan). The
    emission is every node through its emitter at the placed offsets, with `prefix` for the
    weights.c arrays (the writer's c_names(...).weights): the C writer writes it as it is, so
    the flash figure here and weights.c come from one run of the emitters. None when the
    native emitter cannot emit the graph (a model only the TVM backend takes)."""
    placed = plan_graph(graph)
    bufs = list(placed.buffers)
    base = buffer_requests(unfused)
    d = plan_to_dict(bufs, placed)
    graph_weights = weights_bytes(graph)
    emission = try_emit_nodes(graph, placed.offsets, prefix)
    d.update({
        "unfused_liveness_bound_bytes": liveness_bound(base, ALIGNMENT),
        "no_reuse_bytes": sum(align_up(b.size, ALIGNMENT) for b in base),
        # flash: the arrays weights.c will hold (the emitter packs weights for its kernels)
        "weights_bytes": graph_weights if emission is None else emission.weights_bytes,
        "graph_weights_bytes": graph_weights,
        "macs": graph_macs(graph),
        "ops": len(graph.nodes),
        "unfused_ops": len(unfused.nodes),
    })
    return d, bufs, placed, emission
