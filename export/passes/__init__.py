"""Graph -> Graph passes, each pure and tested alone; PIPELINE runs them in order.

LOWERING passes change representation only (the memory baseline is measured after them:
`unfused_liveness_bound_bytes`); MEMORY passes (operator integration, token overwriting,
patch-embedding decomposition) are what make the arena small.
"""
from __future__ import annotations

from typing import Callable

from edgeformer.export.ir import Graph
from edgeformer.export.passes.fold_qdq import fold_qdq

Pass = Callable[[Graph], Graph]

LOWERING: tuple[Pass, ...] = (fold_qdq,)
MEMORY: tuple[Pass, ...] = ()
PIPELINE: tuple[Pass, ...] = LOWERING + MEMORY


def run(graph: Graph, passes: tuple[Pass, ...]) -> Graph:
    for p in passes:
        graph = p(graph)
    return graph
