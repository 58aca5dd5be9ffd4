"""What the planner takes and gives: buffer requests, a placed plan, and the one alignment.

Lifetimes are inclusive op ranges ``[first_op, last_op]``. Sizes are kept as requested and
rounded up to ALIGNMENT where they are placed, so with aligned offsets "overlap of aligned
sizes" equals "overlap of raw sizes".
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Every activation offset and size in the arena is a multiple of this (the one definition:
# both backends, the passes, the search's memory model and the tests read it from here).
ALIGNMENT = 16


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return -(-n // alignment) * alignment


@dataclass(frozen=True)
class BufferReq:
    name: str
    size: int  # bytes (> 0)
    first_op: int  # op that writes it first (inclusive)
    last_op: int  # op that reads it last (inclusive)
    alias_of: str | None = None  # may take this buffer's offset; it must end at our first_op


@dataclass(frozen=True)
class Plan:
    """A checked placement: no two buffers live at the same op overlap (allowed in-place
    aliases excepted). `buffers` are the requests it places, in request order."""

    arena_bytes: int
    offsets: dict[str, int]
    liveness_bound_bytes: int  # no placement can go below this
    no_reuse_bytes: int  # sum of aligned sizes
    strategy: str  # which placement won
    alignment: int
    buffers: tuple[BufferReq, ...] = field(default=(), repr=False, compare=False)
