"""In-place rules: which output may take the arena bytes of which input, {out: in}.

A rule only proposes; lifetimes.buffer_requests turns a proposal into an alias only where the
input dies at the op that writes the output, and the checker verifies every plan.

- reshape_aliases: ops that only re-view their input (RESHAPE_LIKE) share its bytes; the
  emitter then sees equal offsets and emits nothing for the node (else it copies).
- token_overwrites: a fused node (a row loop) writes output row r over the input row r it
  has already read, and declares so in attrs["inplace"] (passes/row_loop.py).
"""
from __future__ import annotations

from typing import Callable

from edgeformer.export.ir import RESHAPE_LIKE, Graph

InPlaceRule = Callable[[Graph], dict[str, str]]


def reshape_aliases(graph: Graph) -> dict[str, str]:
    """Outputs of re-viewing ops (same data, new shape) on a non-constant input: {out: in}."""
    hints = {}
    for n in graph.nodes:
        if n.op in RESHAPE_LIKE and n.inputs and not graph.tensors[n.inputs[0]].is_const:
            hints[n.outputs[0]] = n.inputs[0]
    return hints


def token_overwrites(graph: Graph) -> dict[str, str]:
    """{out: in} token-overwriting rules the nodes declare (attrs["inplace"])."""
    hints: dict[str, str] = {}
    for n in graph.nodes:
        hints.update(n.attrs.get("inplace", {}))
    return hints


# Every plan the exporter makes uses these, in this order (a later rule wins on one output).
IN_PLACE_RULES: tuple[InPlaceRule, ...] = (reshape_aliases, token_overwrites)


def inplace_map(graph: Graph, rules: tuple[InPlaceRule, ...] = IN_PLACE_RULES) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in rules:
        out.update(r(graph))
    return out
