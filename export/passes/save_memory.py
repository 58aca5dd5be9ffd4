"""save_memory: the memory-saving decisions, one explicit step after the pure passes.

The candidates are pure rewrites (passes/dup_tokenwise.py, passes/row_loop.py); this step
alone asks the planner whether each pays. `cost` scores a graph; by default it is
memory.planned_arena, the arena of the very plan the exporter ships (same lifetimes, in-place
rules and planner settings), so every decision is judged on the plan that is emitted.

Decisions, in order:
1. duplicate shared token-wise chains (LN(x) read by q, k and v): kept when the arena does
   not grow, or when the row loops they allow end smaller than the row loops without them;
2. row loops: kept when they make the arena smaller;
3. merge row loops that recompute the same chain (dup_tokenwise's copies of LN(x) for the K
   and the V loops): each merge kept when the arena does not grow.
"""
from __future__ import annotations

from typing import Callable

from edgeformer.export.ir import Graph
from edgeformer.export.memory import planned_arena
from edgeformer.export.passes.dup_tokenwise import dup_tokenwise
from edgeformer.export.passes.row_loop import merge_candidates, merge_pair, row_loops

Cost = Callable[[Graph], int]


class _Scores:
    """cost(graph) once per graph object (the step compares the same candidates repeatedly)."""

    def __init__(self, cost: Cost) -> None:
        self.cost = cost
        self.seen: dict[int, tuple[Graph, int]] = {}   # id -> (graph kept alive, its cost)

    def __call__(self, g: Graph) -> int:
        hit = self.seen.get(id(g))
        if hit is None:
            hit = self.seen[id(g)] = (g, self.cost(g))
        return hit[1]


def _merged(g: Graph, score: _Scores) -> Graph:
    """Greedy: the first mergeable pair that does not grow the arena, again until none."""
    arena = score(g)
    while True:
        for ia, ib in merge_candidates(g):
            m = merge_pair(g, ia, ib)
            if m is not None and score(m) <= arena:
                g, arena = m, score(m)
                break
        else:
            return g


def _looped(g: Graph, score: _Scores, memo: dict[int, Graph]) -> Graph:
    """Row loops (then merged) where they make the arena smaller; g unchanged otherwise."""
    if id(g) not in memo:
        out = row_loops(g)
        memo[id(g)] = g if out is g or score(out) >= score(g) else _merged(out, score)
    return memo[id(g)]


def save_memory(graph: Graph, cost: Cost = planned_arena) -> Graph:
    score, memo = _Scores(cost), {}
    dup = dup_tokenwise(graph)
    if (dup is not graph and score(dup) > score(graph)
            and not score(_looped(dup, score, memo)) < score(_looped(graph, score, memo))):
        dup = graph   # the copies cost bytes and the loops they allow do not win them back
    return _looped(dup, score, memo)
