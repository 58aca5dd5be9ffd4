"""row_loops: operator integration as row loops (`ef.RowLoop`), with token overwriting.

A set of ops whose output row r depends only on row r of their row-sliced inputs (plus
loop-invariant tensors read whole: weights, or K and V computed before the loop) becomes one
node. Its attrs hold a body Graph in which every row-sliced tensor has the row dim set to 1;
the emitter runs the body once per row with the normal kernels, so numerics are unchanged.
Body intermediates live in the node's scratch (planned here, with the same planner, on the
body's tensors), so only one row of them exists at a time.

Which ops join is decided by the per-op ROW_RULES (rowaxis.py). A loop is grown forward from
a seed op, in graph order, keeping the region convex (no path leaves it and comes back);
then the longest prefix with the fewest whole tensors leaving it is kept (for a pre-LN ViT:
one loop per block from x to the next x, plus loops for K and V).

Token overwriting: when an output row is no larger than a row-sliced input's row, the output
may overwrite that input (row r is written after row r was read, and only rows <= r are
touched). The node declares it in attrs["inplace"] = {out: in}; the planner's
token-overwriting rule (memory/rules.py) applies it only where the input dies at the loop.

Pure rewrites only: `row_loops` makes every loop it can and `merge_pair` merges two loops;
whether a loop or a merge is worth it is the memory-saving step's question
(passes/save_memory.py), scored on the shipped plan.
"""
from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from edgeformer.export.ir import RESHAPE_LIKE, Graph, Node, Tensor
from edgeformer.export.macs import graph_macs
from edgeformer.export.memory import plan_loop_body
from edgeformer.export.passes.rowaxis import ROW_RULES

ROW_LOOP = "ef.RowLoop"
MOVEMENT = set(RESHAPE_LIKE) | {"Transpose", "Slice", "Split", "Concat", "Gather"}
MIN_ROW = 4   # elements per row below which a loop is not worth it


@dataclass
class _Region:
    rows: int
    idx: list[int] = field(default_factory=list)          # member node positions, in order
    axes: dict[str, int] = field(default_factory=dict)    # row axis: produced + sliced inputs
    whole: set[str] = field(default_factory=set)          # outer tensors read whole
    produced: set[str] = field(default_factory=set)


def row_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + (1,) + shape[axis + 1:]


def _contiguous(shape: tuple[int, ...], axis: int) -> bool:
    """Row r is one contiguous block only when nothing before the row axis repeats."""
    return math.prod(shape[:axis]) == 1


def _try_add(g: Graph, reg: _Region, j: int, known: list[int | None]) -> bool:
    n = g.nodes[j]
    rule = ROW_RULES.get(n.op)
    res = rule(g, n, known) if rule is not None else None
    if res is None:
        return False
    ins, outs = res
    for x, k, a in zip(n.inputs, known, ins):
        if not x:
            continue
        if (k is not None and a != k) or (x in reg.produced and a is None):
            return False
        if x in reg.produced:
            continue
        if a is None and x in reg.axes:
            return False   # read whole here, row by row elsewhere: one name, two roles
        if a is not None and (x in reg.whole or reg.axes.get(x, a) != a
                              or g.tensors[x].shape[a] != reg.rows):
            return False
    for o, a in zip(n.outputs, outs):
        if o and (a is None or g.tensors[o].shape[a] != reg.rows):
            return False
    for x, a in zip(n.inputs, ins):
        if x and x not in reg.produced:
            (reg.whole.add(x) if a is None else reg.axes.__setitem__(x, a))
    for o, a in zip(n.outputs, outs):
        if o:
            reg.axes[o] = a
            reg.produced.add(o)
    reg.idx.append(j)
    return True


def _grow(g: Graph, s: int) -> _Region | None:
    seed = g.nodes[s]
    acts = [i for i, x in enumerate(seed.inputs) if x and not g.tensors[x].is_const]
    if seed.op not in ROW_RULES or not acts:
        return None
    shape = g.tensors[seed.inputs[acts[0]]].shape
    ax = next((a for a, d in enumerate(shape) if d > 1), None)   # outermost non-unit dim
    if ax is None or math.prod(shape[ax + 1:]) < MIN_ROW:
        return None   # rows of a few scalars: all loop overhead, nothing to save
    reg = _Region(rows=shape[ax])
    known: list[int | None] = [None] * len(seed.inputs)
    known[acts[0]] = ax
    if not _try_add(g, reg, s, known):
        return None
    tainted: set[str] = set()   # tensors computed outside the region from region tensors
    for j in range(s + 1, len(g.nodes)):
        n = g.nodes[j]
        ins = [x for x in n.inputs if x]
        if any(x in tainted for x in ins):
            tainted.update(n.outputs)
        elif any(x in reg.produced for x in ins):
            known = [reg.axes[x] if x in reg.produced else None for x in n.inputs]
            if not _try_add(g, reg, j, known):
                tainted.update(n.outputs)
    return reg


def _outputs(g: Graph, members: list[int], readers: dict[str, list[int]]) -> list[str]:
    """Tensors the member nodes produce that something else (or the caller) reads."""
    mset = set(members)
    return [t for j in members for t in g.nodes[j].outputs
            if t and (t in g.outputs or any(i not in mset for i in readers.get(t, ())))]


def _best_prefix(g: Graph, reg: _Region) -> tuple[list[int], list[str]] | None:
    """The longest prefix with the fewest outputs that does real work."""
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(g.nodes):
        for x in set(n.inputs):
            if x in reg.produced:
                readers.setdefault(x, []).append(i)
    best = None
    for k in range(1, len(reg.idx) + 1):
        members = reg.idx[:k]
        if all(g.nodes[j].op in MOVEMENT for j in members):
            continue
        outs = _outputs(g, members, readers)
        if best is None or len(outs) <= len(best[1]):
            best = (members, outs)
    return best


def _toposort(nodes: list[Node], keys: list[float]) -> list[Node]:
    """Stable topological order: ready nodes go out by their key (original position)."""
    prod = {t: i for i, n in enumerate(nodes) for t in n.outputs if t}
    deps = [{prod[x] for x in n.inputs if x in prod and prod[x] != i} for i, n in enumerate(nodes)]
    users: list[list[int]] = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for p in d:
            users[p].append(i)
    left = [len(d) for d in deps]
    ready = [(keys[i], i) for i in range(len(nodes)) if left[i] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(nodes[i])
        for u in users[i]:
            left[u] -= 1
            if left[u] == 0:
                heapq.heappush(ready, (keys[u], u))
    return out


def _row_bytes(t: Tensor, axis: int) -> int:
    return t.nbytes // t.shape[axis]


def _collapse(g: Graph, reg: _Region, members: list[int], outs: list[str]) -> Graph | None:
    mnodes = [g.nodes[j] for j in members]
    produced = {t for n in mnodes for t in n.outputs if t}
    outer = list(dict.fromkeys(x for n in mnodes for x in n.inputs if x and x not in produced))
    tensors: dict[str, Tensor] = {}
    rename: dict[str, str] = {}
    row_inputs, direct_in = [], set()
    for x in outer:
        t = g.tensors[x]
        if x not in reg.axes:
            tensors[x] = t
            continue
        a = reg.axes[x]
        if not t.is_const and _contiguous(t.shape, a):
            body = x
            direct_in.add(x)
        else:
            body = rename[x] = f"{x}#row"   # gathered into scratch each row
        tensors[body] = dataclasses.replace(t, name=body, shape=row_shape(t.shape, a), data=None)
        row_inputs.append({"outer": x, "body": body, "axis": a})
    for t in produced:
        tensors[t] = dataclasses.replace(g.tensors[t], shape=row_shape(g.tensors[t].shape,
                                                                       reg.axes[t]))
    inplace: dict[str, str] = {}
    row_outputs, copied, direct = [], [], set(direct_in)
    for t in outs:
        a, tt = reg.axes[t], g.tensors[t]
        cands = [x for x in direct_in if x not in inplace.values() and x not in g.outputs
                 and _row_bytes(g.tensors[x], reg.axes[x]) >= _row_bytes(tt, a)]
        if cands and _contiguous(tt.shape, a) and t not in g.outputs:
            inplace[t] = max(cands, key=lambda x: (g.tensors[x].nbytes, x))
        copy = t in inplace or not _contiguous(tt.shape, a)
        if copy:
            copied.append(t)
        else:
            direct.add(t)
        row_outputs.append({"outer": t, "body": t, "axis": a, "copy": copy})
    if len(mnodes) == 1 and not inplace:
        return None   # one op, no overwriting: a loop would only add scratch
    nodes = []
    for n in mnodes:
        ins = tuple(rename.get(x, x) for x in n.inputs)
        if n.op == "Reshape":   # the target shape names the row dim: make it the body's
            shp = f"{n.name}#rowshape"
            tensors[shp] = Tensor(shp, (len(tensors[n.outputs[0]].shape),), "int64",
                                  np.asarray(tensors[n.outputs[0]].shape, np.int64))
            ins = (ins[0], shp)
        nodes.append(Node(n.op, n.name, ins, n.outputs, dict(n.attrs)))
    body = Graph(tuple(nodes), tensors, tuple(rename.values()), tuple(copied), dict(g.meta))
    whole_acts = {x for x in reg.whole if not g.tensors[x].is_const}
    offsets, scratch = plan_loop_body(body, direct | whole_acts)
    attrs = {"body": body, "rows": reg.rows, "row_inputs": tuple(row_inputs),
             "row_outputs": tuple(row_outputs), "body_offsets": offsets,
             "scratch_bytes": scratch, "inplace": inplace,
             "macs": reg.rows * graph_macs(body)}
    acts = tuple(x for x in outer if not g.tensors[x].is_const)
    loop = Node(ROW_LOOP, f"{mnodes[0].name}#rowloop", acts, tuple(outs), attrs)
    mset = set(members)
    rest = [(n, float(i)) for i, n in enumerate(g.nodes) if i not in mset]
    rest.append((loop, float(members[-1])))
    order = _toposort([n for n, _ in rest], [k for _, k in rest])
    used = {x for n in order for x in (*n.inputs, *n.outputs) if x} | set(g.inputs) | set(g.outputs)
    used |= {m["outer"] for n in order if n.op == ROW_LOOP for m in n.attrs["row_inputs"]}
    return g.replace(nodes=tuple(order),
                     tensors={k: v for k, v in g.tensors.items() if k in used})


def _base(name: str) -> str:
    """A node name without dup_tokenwise's copy suffix (#d<i>)."""
    head, sep, tail = name.rpartition("#d")
    return head if sep and tail.isdigit() else name


def _shared_prefix(a: Graph, b: Graph) -> dict[str, str] | None:
    """{b tensor: a tensor} for b's leading nodes that are copies of a's (same op, attrs and
    inputs: a chain dup_tokenwise duplicated, e.g. LN(x) of the K and the V loops), or None."""
    ren: dict[str, str] = {}
    for nb in b.nodes:
        ins = tuple(ren.get(x, x) for x in nb.inputs)
        na = next((n for n in a.nodes if _base(n.name) == _base(nb.name) and n.op == nb.op
                   and n.inputs == ins and n.attrs == nb.attrs
                   and len(n.outputs) == len(nb.outputs)), None)
        if na is None:
            break
        ren.update({o: x for o, x in zip(nb.outputs, na.outputs) if o and x})
    return ren or None


def merge_pair(g: Graph, ia: int, ib: int) -> Graph | None:
    """Loops ia < ib over the same rows, b's body starting with a copy of a's chain, and b
    reading nothing made after ia: one loop that computes the chain once per row."""
    na, nb = g.nodes[ia], g.nodes[ib]
    a, b = na.attrs, nb.attrs
    if a["rows"] != b["rows"] or a["inplace"] or b["inplace"]:
        return None
    made_after = {t for n in g.nodes[ia:ib] for t in n.outputs if t}
    if any(x in made_after for x in nb.inputs):
        return None
    ren = _shared_prefix(a["body"], b["body"])
    if ren is None or any(x in ren for x in b["body"].outputs):
        return None
    ba, bb = a["body"], b["body"]
    dropped = {id(n) for n in bb.nodes if all(o in ren for o in n.outputs if o)}
    nodes = list(ba.nodes) + [Node(n.op, n.name, tuple(ren.get(x, x) for x in n.inputs),
                                   n.outputs, n.attrs) for n in bb.nodes if id(n) not in dropped]
    used = {x for n in nodes for x in (*n.inputs, *n.outputs) if x}
    tensors = {k: v for k, v in {**bb.tensors, **ba.tensors}.items() if k in used}
    rin = list(a["row_inputs"]) + [m for m in b["row_inputs"]
                                   if m["body"] in used and all(m["outer"] != r["outer"]
                                                                for r in a["row_inputs"])]
    rout = list(a["row_outputs"]) + list(b["row_outputs"])
    body = Graph(tuple(nodes), tensors, tuple(dict.fromkeys(m["body"] for m in rin
                                                            if m["body"] != m["outer"])),
                 tuple(m["body"] for m in rout if m["copy"]), dict(ba.meta))
    acts = tuple(dict.fromkeys(x for x in (*na.inputs, *nb.inputs)
                               if x and (x in used or any(m["outer"] == x for m in rin))))
    rows_in = {m["outer"] for m in rin}
    outer = ({m["body"] for m in rin if m["body"] == m["outer"]}
             | {m["body"] for m in rout if not m["copy"]} | {x for x in acts if x not in rows_in})
    offsets, scratch = plan_loop_body(body, outer)
    attrs = {**a, "body": body, "row_inputs": tuple(rin), "row_outputs": tuple(rout),
             "body_offsets": offsets, "scratch_bytes": scratch, "inplace": {},
             "macs": a["macs"] + b["macs"]}
    loop = Node(ROW_LOOP, na.name, acts, (*na.outputs, *nb.outputs), attrs)
    order = [loop if i == ia else n for i, n in enumerate(g.nodes) if i != ib]
    return g.replace(nodes=tuple(order))


def row_loops(graph: Graph) -> Graph:
    """Every row loop the rules allow, grown from each node in graph order (the graph itself
    when none forms). Pure rewrite: the memory-saving step decides whether to keep it."""
    g, tried = graph, set()
    while True:
        for s, n in enumerate(g.nodes):
            if n.name in tried or n.op == ROW_LOOP:
                continue
            tried.add(n.name)
            reg = _grow(g, s)
            best = _best_prefix(g, reg) if reg is not None else None
            new = _collapse(g, reg, *best) if best is not None else None
            if new is not None:
                g = new
                break
        else:
            return g


def merge_candidates(g: Graph) -> list[tuple[int, int]]:
    """(ia, ib) pairs of row loops merge_pair may merge, in the order the step tries them."""
    loops = [i for i, n in enumerate(g.nodes) if n.op == ROW_LOOP]
    return [(ia, ib) for ia in loops for ib in loops if ib > ia]
