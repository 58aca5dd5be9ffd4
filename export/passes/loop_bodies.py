"""in_row_loops: run a rewrite on the body of every row loop (ef.RowLoop, passes/row_loop.py).

The spiking passes run after the memory step, so a spiking ViT's MLP (fc1 -> threshold ->
fc2) is already inside its block's row loop; lif_fuse and spike_fc rewrite it there. The
rewrite sees the body with every row output marked as a graph output (a body tensor the
loop writes to the outer arena must survive), and a body that changed gets its scratch
planned again by the row loop's own planner (memory.plan_loop_body) over the same outer
tensors: the outer plan, made after every pass, sizes the loop by that scratch.
Pure: Graph -> Graph.
"""
from __future__ import annotations

from typing import Callable

from edgeformer.export.ir import Graph, Node
from edgeformer.export.memory import plan_loop_body

ROW_LOOP = "ef.RowLoop"


def in_row_loops(graph: Graph, rewrite: Callable[[Graph, Node], Graph]) -> Graph:
    """`rewrite(body, loop_node)` on each row loop's body; the same graph when none changed."""
    nodes, changed = [], False
    for n in graph.nodes:
        if n.op != ROW_LOOP:
            nodes.append(n)
            continue
        a = n.attrs
        body = a["body"]
        rows_out = tuple(m["body"] for m in a["row_outputs"])
        view = body.replace(outputs=tuple(dict.fromkeys((*body.outputs, *rows_out))))
        new = rewrite(view, n)
        if new.nodes == view.nodes:
            nodes.append(n)
            continue
        used = {x for m in new.nodes for x in (*m.inputs, *m.outputs) if x} | set(body.inputs) | set(body.outputs)
        new = new.replace(outputs=body.outputs, tensors={k: v for k, v in new.tensors.items() if k in used})
        # Body tensors in the outer arena (row inputs/outputs written in place, activations
        # read whole): the ones the loop's scratch plan did not place.
        outer = {k for k, t in new.tensors.items()
                 if not t.is_const and k in body.tensors and k not in a["body_offsets"]}
        offsets, scratch = plan_loop_body(new, outer)
        nodes.append(Node(n.op, n.name, n.inputs, n.outputs,
                          {**a, "body": new, "body_offsets": offsets, "scratch_bytes": scratch}))
        changed = True
    return graph.replace(nodes=tuple(nodes)) if changed else graph
