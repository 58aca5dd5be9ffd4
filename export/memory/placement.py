"""Placement: one fixed offset per buffer inside one aligned arena (the static planner).

Invariant: no two buffers live at the same op overlap in memory. The only exception is an
in-place alias (``alias_of``): the aliasing buffer may take exactly its target's offset,
because the target's last op is the aliasing buffer's first op. Every plan goes through
``check_plan`` before it is returned, so a planner bug raises instead of emitting a plan.

This is also the memory model of the architecture search: it must stay fast (a few tens of
ms for 200 buffers) and deterministic (same buffers in, same plan out, on any machine).
"""

from __future__ import annotations

import random
import time

from edgeformer.export.memory.buffers import ALIGNMENT, BufferReq, Plan
from edgeformer.export.memory.check import (PlanError, align_up, alias_pairs, check_plan,
                                            liveness_bound, validate)

# Work units (one per conflict visited while placing a buffer) per second of time budget.
# The local search stops on work done, not on the clock, so results do not depend on machine
# load; this constant only makes time_budget_s roughly mean seconds on a laptop-class core.
WORK_PER_SECOND = 3_000_000
SEED = 20261126
TOP_MOVE_P = 0.25  # share of moves that lift a buffer touching the arena top earlier
# The local search's budget for every plan the exporter makes: the shipped plan, each row
# loop's body, and every plan the memory-saving step compares (one setting, so a decision
# is scored on the plan that is emitted).
TIME_BUDGET_S = 0.05


class _Problem:
    """Buffers as parallel lists, with each buffer's lifetime conflicts precomputed."""

    def __init__(self, buffers: list[BufferReq], alignment: int, index: dict[str, int]):
        n = len(buffers)
        self.n = n
        self.size = [align_up(b.size, alignment) for b in buffers]
        self.first = [b.first_op for b in buffers]
        self.last = [b.last_op for b in buffers]
        self.conf: list[list[int]] = [[] for _ in range(n)]
        by_first = sorted(range(n), key=lambda i: self.first[i])
        for k, i in enumerate(by_first):
            for j in by_first[k + 1:]:
                if self.first[j] > self.last[i]:
                    break
                self.conf[i].append(j)
                self.conf[j].append(i)
        self.cost = [len(c) + 1 for c in self.conf]
        # Alias partners in both directions: whichever of the pair is placed first
        # offers its offset to the other.
        self.partners: list[list[int]] = [[] for _ in range(n)]
        for x, t in alias_pairs(buffers, index):
            self.partners[x].append(t)
            self.partners[t].append(x)


def _place(p: _Problem, order: list[int], start: int, offs: list[int], pre: list[int],
           cutoff: int) -> tuple[int, int]:
    """First-fit placement of order[start:], given order[:start] already placed in offs.

    Each buffer first tries an already placed alias partner's offset (in-place reuse), else
    takes the lowest offset where it overlaps no placed buffer whose lifetime intersects.
    pre[k] is the arena after placing order[:k]. Returns (arena, work units); stops early,
    with an arena > cutoff, as soon as the arena exceeds cutoff.
    """
    size, conf, partners = p.size, p.conf, p.partners
    for i in order[start:]:
        offs[i] = -1
    arena = pre[start]
    work = 0
    for k in range(start, len(order)):
        i = order[k]
        s = size[i]
        work += p.cost[i]
        placed = [(offs[j], offs[j] + size[j], j) for j in conf[i] if offs[j] >= 0]
        o = -1
        for q in partners[i]:
            oq = offs[q]
            if oq >= 0 and all(j == q or b <= oq or a >= oq + s for a, b, j in placed):
                o = oq
                break
        if o < 0:
            placed.sort()
            o = 0
            for a, b, _ in placed:
                if a >= o + s:
                    break
                if b > o:
                    o = b
        offs[i] = o
        if o + s > arena:
            arena = o + s
        pre[k + 1] = arena
        if arena > cutoff:
            break
    return arena, work


def _orders(p: _Problem) -> list[tuple[str, list[int]]]:
    """The greedy placement orders; ties keep input order so results are reproducible."""
    idx = range(p.n)
    life = [p.last[i] - p.first[i] + 1 for i in idx]
    n_ops = max(p.last) + 1
    profile = [0] * (n_ops + 1)
    for i in idx:
        profile[p.first[i]] += p.size[i]
        profile[p.last[i] + 1] -= p.size[i]
    for op in range(1, n_ops + 1):
        profile[op] += profile[op - 1]
    # Breadth: the highest live total this buffer sees; buffers live at the peak get the peak.
    breadth = [max(profile[p.first[i]:p.last[i] + 1]) for i in idx]
    return [
        # TFLite Micro's GreedyMemoryPlanner order.
        ("greedy_by_size", sorted(idx, key=lambda i: (-p.size[i], -life[i], i))),
        # Big and long-lived buffers constrain the most others.
        ("greedy_by_size_lifetime", sorted(idx, key=lambda i: (-p.size[i] * life[i], i))),
        # The peak op's buffers packed first, then outwards by the breadth they see.
        ("peak_first", sorted(idx, key=lambda i: (-breadth[i], -p.size[i], -life[i], i))),
        # Conflict degree: buffers that share ops with the most bytes first.
        ("greedy_by_conflict", sorted(
            idx, key=lambda i: (-sum(p.size[j] for j in p.conf[i]) - p.size[i], i))),
    ]


def _local_search(p: _Problem, order: list[int], offs: list[int], pre: list[int], arena: int,
                  bound: int, work_budget: int, deadline: float) -> tuple[int, list[int], bool]:
    """Perturb the placement order (swap, or move a buffer that touches the arena top to an
    earlier slot), re-place from the first changed slot, keep moves that do not grow the
    arena. Seeded, and stopped by work done, so the same input gives the same plan."""
    rng = random.Random(SEED)
    n = p.n
    best_arena, best_offs, improved = arena, offs[:], False
    cur_order, cur_offs, cur_pre, cur_arena = order[:], offs[:], pre[:], arena
    pos = {i: k for k, i in enumerate(cur_order)}
    spent, step = 0, 0
    while spent < work_budget and best_arena > bound and n > 1:
        step += 1
        if step % 64 == 0 and time.perf_counter() > deadline:
            break  # safety net on a badly overloaded machine only
        if rng.random() < TOP_MOVE_P:
            top = [i for i in range(n) if cur_offs[i] + p.size[i] == cur_arena]
            a = pos[rng.choice(top)]
            if a == 0:
                continue
            b = rng.randrange(a)
            new_order = cur_order[:b] + [cur_order[a]] + cur_order[b:a] + cur_order[a + 1:]
        else:
            a, b = rng.randrange(n), rng.randrange(n)
            if a == b:
                continue
            a, b = max(a, b), min(a, b)
            new_order = cur_order[:]
            new_order[a], new_order[b] = new_order[b], new_order[a]
        new_offs, new_pre = cur_offs[:], cur_pre[:]
        new_arena, work = _place(p, new_order, b, new_offs, new_pre, cur_arena)
        spent += work + 3 * n  # the list copies and the top scan cost about 3n
        if new_arena <= cur_arena:
            cur_order, cur_offs, cur_pre, cur_arena = new_order, new_offs, new_pre, new_arena
            pos = {i: k for k, i in enumerate(cur_order)}
            if new_arena < best_arena:
                best_arena, best_offs, improved = new_arena, new_offs[:], True
    return best_arena, best_offs, improved


def plan_buffers(buffers: list[BufferReq], alignment: int = ALIGNMENT,
                 time_budget_s: float = TIME_BUDGET_S) -> Plan:
    """Place every buffer so that no two buffers live at the same op overlap; keep the
    smallest arena over the greedy orders and a local search; check the plan; return it."""
    index = validate(buffers, alignment)
    bound = liveness_bound(buffers, alignment)
    if not buffers:
        return Plan(0, {}, 0, 0, "empty", alignment, ())
    t0 = time.perf_counter()
    p = _Problem(buffers, alignment, index)
    no_reuse = sum(p.size)
    # Cheap greedy orders first; a tie keeps the earlier (simpler) strategy.
    best = None
    for name, order in _orders(p):
        offs, pre = [-1] * p.n, [0] * (p.n + 1)
        arena, _ = _place(p, order, 0, offs, pre, no_reuse)
        if best is None or arena < best[0]:
            best = (arena, name, order, offs, pre)
        if arena == bound:
            break
    arena, name, order, offs, pre = best
    if arena > no_reuse:  # cannot happen with first-fit; kept so arena <= no_reuse always
        arena, name, order = no_reuse, "no_reuse", None
        offs = [sum(p.size[:i]) for i in range(p.n)]
    if arena > bound and order is not None:
        budget = int(time_budget_s * WORK_PER_SECOND)
        deadline = t0 + max(10 * time_budget_s, time_budget_s + 0.5)
        ls_arena, ls_offs, improved = _local_search(p, order, offs, pre, arena, bound, budget,
                                                    deadline)
        if improved:
            arena, name, offs = ls_arena, "local_search", ls_offs
    plan = Plan(arena, {b.name: offs[i] for i, b in enumerate(buffers)}, bound, no_reuse,
                name, alignment, tuple(buffers))
    check_plan(buffers, plan)
    return plan


def place_in_order(buffers: list[BufferReq], names: list[str], alignment: int = ALIGNMENT) -> Plan:
    """First-fit placement in the given order only (for tests and for debugging a plan)."""
    index = validate(buffers, alignment)
    if sorted(names) != sorted(index):
        raise PlanError(f"place_in_order: names {names} are not the buffers {sorted(index)}")
    p = _Problem(buffers, alignment, index)
    offs, pre = [-1] * p.n, [0] * (p.n + 1)
    arena, _ = _place(p, [index[nm] for nm in names], 0, offs, pre, sum(p.size))
    plan = Plan(arena, {b.name: offs[i] for i, b in enumerate(buffers)},
                liveness_bound(buffers, alignment), sum(p.size), "given_order", alignment,
                tuple(buffers))
    check_plan(buffers, plan)
    return plan
