"""Checks on buffer plans: input validation, the liveness lower bound, and the overlap checker.

The invariant every plan must keep: no two buffers live at the same op overlap in memory.
The one exception is an allowed in-place alias: buffer X with ``alias_of == T`` may sit at
exactly T's offset, because T's last op is X's first op and that op overwrites T row by row.
"""

from __future__ import annotations

from collections import defaultdict

from edgeformer.errors import EdgeformerError
from edgeformer.export.memory.buffers import ALIGNMENT, BufferReq, Plan, align_up


class PlanError(EdgeformerError):
    """A buffer list the planner cannot accept, or a plan that breaks the invariant."""


def validate(buffers: list[BufferReq], alignment: int) -> dict[str, int]:
    """Raise PlanError on bad input; return name -> index."""
    if alignment <= 0:
        raise PlanError(f"planner: alignment must be > 0, got {alignment}")
    index: dict[str, int] = {}
    for i, b in enumerate(buffers):
        if b.name in index:
            raise PlanError(f"planner: buffer name {b.name!r} appears twice; names must be unique")
        index[b.name] = i
        if b.size <= 0:
            raise PlanError(f"planner: buffer {b.name!r} has size {b.size}; expected > 0 bytes")
        if not 0 <= b.first_op <= b.last_op:
            raise PlanError(
                f"planner: buffer {b.name!r} has ops {b.first_op}..{b.last_op}; "
                "expected 0 <= first_op <= last_op")
    for b in buffers:
        if b.alias_of is None:
            continue
        t = buffers[index[b.alias_of]] if b.alias_of in index else None
        if t is None or t is b:
            raise PlanError(
                f"planner: buffer {b.name!r} has alias_of={b.alias_of!r}, which is not another "
                f"buffer in the list; known: {sorted(index)[:20]}")
        if t.last_op != b.first_op:
            raise PlanError(
                f"planner: buffer {b.name!r} (first op {b.first_op}) aliases {t.name!r} "
                f"(last op {t.last_op}); an in-place target must end at the aliasing "
                "buffer's first op — fix the lifetimes or drop alias_of")
    return index


def alias_pairs(buffers: list[BufferReq], index: dict[str, int]) -> list[tuple[int, int]]:
    """(aliasing index, target index) for every alias_of; input already validated."""
    return [(i, index[b.alias_of]) for i, b in enumerate(buffers) if b.alias_of is not None]


def _max_matching(edges: list[tuple[int, int, int]]) -> int:
    """Max-weight matching on a forest of (child, parent, weight) edges.

    Why a matching: at one op, a buffer can share its offset with only one alias partner
    (two partners at its offset would overlap each other), so the bytes saved at that op are
    at most the best set of disjoint alias pairs.
    """
    children: dict[int, list[tuple[int, int]]] = defaultdict(list)
    is_child = set()
    for c, p, w in edges:
        children[p].append((c, w))
        is_child.add(c)

    def dp(v: int) -> tuple[int, int]:  # (best with v unmatched, best overall)
        free, gain = 0, 0
        for c, w in children.get(v, ()):
            c_free, c_best = dp(c)
            free += c_best
            gain = max(gain, w + c_free - c_best)
        return free, free + gain

    return sum(dp(r)[1] for r in list(children) if r not in is_child)


def liveness_bound(buffers: list[BufferReq], alignment: int = ALIGNMENT) -> int:
    """Max over ops of the aligned bytes live at that op, an alias pair at its shared op
    counted once (as the larger of the two). No valid placement has a smaller arena."""
    index = validate(buffers, alignment)
    if not buffers:
        return 0
    n_ops = max(b.last_op for b in buffers) + 2
    delta = [0] * n_ops
    for b in buffers:
        s = align_up(b.size, alignment)
        delta[b.first_op] += s
        delta[b.last_op + 1] -= s
    by_op: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for x, t in alias_pairs(buffers, index):
        w = min(align_up(buffers[x].size, alignment), align_up(buffers[t].size, alignment))
        by_op[buffers[x].first_op].append((x, t, w))
    best, live = 0, 0
    for op in range(n_ops - 1):
        live += delta[op]
        saved = _max_matching(by_op[op]) if op in by_op else 0
        best = max(best, live - saved)
    return best


def _allowed_alias(a: BufferReq, b: BufferReq, off_a: int, off_b: int) -> bool:
    if off_a != off_b:
        return False
    return (a.alias_of == b.name and b.last_op == a.first_op) or (
        b.alias_of == a.name and a.last_op == b.first_op)


def check_plan(buffers: list[BufferReq], plan: Plan) -> None:
    """Raise PlanError unless: every buffer has an aligned offset, fits in plan.arena_bytes,
    and no two buffers live at the same op overlap (allowed in-place aliases excepted)."""
    al = plan.alignment
    validate(buffers, al)
    missing = [b.name for b in buffers if b.name not in plan.offsets]
    extra = sorted(set(plan.offsets) - {b.name for b in buffers})
    if missing or extra:
        raise PlanError(f"plan: offsets missing for {missing[:10]}, unknown names {extra[:10]}")
    for b in buffers:
        off, end = plan.offsets[b.name], plan.offsets[b.name] + align_up(b.size, al)
        if off < 0 or off % al:
            raise PlanError(
                f"plan: buffer {b.name!r} at offset {off}; expected a multiple of {al} >= 0")
        if end > plan.arena_bytes:
            raise PlanError(
                f"plan: buffer {b.name!r} bytes [{off}, {end}) exceed the arena of "
                f"{plan.arena_bytes} bytes")
    # Sweep by first op: only buffers still live can clash with the one starting now.
    active: list[BufferReq] = []
    for b in sorted(buffers, key=lambda b: b.first_op):
        active = [a for a in active if a.last_op >= b.first_op]
        ob, eb = plan.offsets[b.name], plan.offsets[b.name] + align_up(b.size, al)
        for a in active:
            oa, ea = plan.offsets[a.name], plan.offsets[a.name] + align_up(a.size, al)
            if oa < eb and ob < ea and not _allowed_alias(a, b, oa, ob):
                raise PlanError(
                    f"plan overlap: {a.name!r} (ops {a.first_op}..{a.last_op}, bytes "
                    f"[{oa}, {ea})) and {b.name!r} (ops {b.first_op}..{b.last_op}, bytes "
                    f"[{ob}, {eb})) are both live at op {b.first_op} and share bytes "
                    f"[{max(oa, ob)}, {min(ea, eb)}); this is a planner bug, please report "
                    "it with the buffer list")
        active.append(b)
