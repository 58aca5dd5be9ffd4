"""dup_tokenwise: a cheap token-wise chain read by several consumers is recomputed per consumer.

Pre-LN attention reads LN(x) three times (q, k, v after split_matmul). Kept as one tensor,
LN(x) stays live from the k projection to the q row loop; recomputed per consumer, only x
(live anyway, for the residual) is kept and each row loop starts from x. The chain is walked
up from the shared tensor through single-input cheap ops (LayerNorm, Q/DQ, unary maps,
reshapes); the anchor is the smallest tensor on the way (the int8 x rather than its float
dequantisation), so duplication never keeps more bytes live than before. Pure: Graph -> Graph;
whether the copies pay for themselves (with the row loops they allow) is the memory-saving
step's question (passes/save_memory.py).
"""
from __future__ import annotations

import dataclasses

from edgeformer.export.ir import RESHAPE_LIKE, Graph, Node
from edgeformer.export.passes.rowaxis import ELEMENTWISE

CHEAP = set(ELEMENTWISE) | set(RESHAPE_LIKE) | {
    "LayerNormalization", "QuantizeLinear", "DequantizeLinear", "ef.QLayerNorm"}
MAX_CHAIN = 6


def _chain(g: Graph, t: str) -> list[Node] | None:
    """The cheap chain anchor -> ... -> t to duplicate, or None.

    An anchor must be live anyway (read elsewhere too) or smaller than t: then duplicating
    never keeps more bytes live than before. The smallest such anchor wins; on ties the
    farther one (more recomputed, fewer tensors kept)."""
    chain: list[Node] = []
    best: tuple[int, int] | None = None   # (bytes, chain length)
    cur = t
    while len(chain) < MAX_CHAIN:
        p = g.producer(cur)
        outs = [o for o in p.outputs if o] if p is not None else []
        acts = [i for i in p.inputs if i and not g.tensors[i].is_const] if p is not None else []
        if p is None or p.op not in CHEAP or outs != [cur] or len(set(acts)) != 1:
            break
        chain.insert(0, p)
        x = acts[0]
        size = g.tensors[x].nbytes
        shared = len(g.consumers(x)) != 1 or x in g.outputs
        if (shared or size < g.tensors[t].nbytes) and (best is None or size <= best[0]):
            best = (size, len(chain))
        if shared:
            break   # x is read elsewhere too: live anyway, stop here
        cur = x
    if best is None:
        return None
    return chain[len(chain) - best[1]:]


def _dup_one(g: Graph) -> Graph | None:
    for n in g.nodes:
        for t in n.outputs:
            if not t or t in g.outputs or g.tensors[t].is_const:
                continue
            cons = []
            for c in g.consumers(t):
                if all(c is not x for x in cons):
                    cons.append(c)
            if len(cons) < 2:
                continue
            chain = _chain(g, t)
            if chain:
                return _rewrite(g, t, chain, cons)
    return None


def _rewrite(g: Graph, t: str, chain: list[Node], cons: list[Node]) -> Graph:
    tensors = dict(g.tensors)
    copies: list[Node] = []
    new_t: dict[int, str] = {}
    for i, c in enumerate(cons):
        ren: dict[str, str] = {}
        for n in chain:
            outs = []
            for o in n.outputs:
                if o:
                    ren[o] = f"{o}#d{i}"
                    tensors[ren[o]] = dataclasses.replace(tensors[o], name=ren[o])
                outs.append(ren.get(o, o))
            copies.append(Node(n.op, f"{n.name}#d{i}", tuple(ren.get(x, x) for x in n.inputs),
                               tuple(outs), dict(n.attrs)))
        new_t[id(c)] = ren[t]
    chain_ids = {id(n) for n in chain}
    nodes: list[Node] = []
    for n in g.nodes:
        if n is chain[0]:
            nodes += copies
        if id(n) in chain_ids:
            continue
        if id(n) in new_t:
            n = Node(n.op, n.name, tuple(new_t[id(n)] if x == t else x for x in n.inputs),
                     n.outputs, n.attrs)
        nodes.append(n)
    used = {x for n in nodes for x in (*n.inputs, *n.outputs) if x} | set(g.inputs) | set(g.outputs)
    return g.replace(nodes=tuple(nodes), tensors={k: v for k, v in tensors.items() if k in used})


def dup_tokenwise(graph: Graph) -> Graph:
    """Every shared cheap chain duplicated per consumer (the graph itself when none is)."""
    out = graph
    while True:
        nxt = _dup_one(out)
        if nxt is None:
            return out
        out = nxt
