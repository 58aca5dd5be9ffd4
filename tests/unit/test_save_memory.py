"""passes/save_memory: the memory-saving rewrites are kept only where the cost (by default the
shipped plan's arena, memory.planned_arena) says they pay."""
from __future__ import annotations

import numpy as np

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.memory import planned_arena
from edgeformer.export.passes import MEMORY
from edgeformer.export.passes.row_loop import ROW_LOOP, row_loops
from edgeformer.export.passes.save_memory import save_memory

SEED = 0  # provenance: weights from numpy default_rng(SEED)


def _residual_block(tokens=8, d=16) -> Graph:
    """y = mean over tokens of x + LN(x) @ w: one row loop (LN, MatMul, Add) written over x."""
    rng = np.random.default_rng(SEED)
    consts = {"g": rng.standard_normal(d).astype(np.float32),
              "w": rng.standard_normal((d, d)).astype(np.float32),
              "ax": np.asarray([1], np.int64)}
    nodes = [Node("LayerNormalization", "ln", ("x", "g"), ("l",), {"axis": -1}),
             Node("MatMul", "mm", ("l", "w"), ("m",)),
             Node("Add", "res", ("x", "m"), ("r",)),
             Node("ReduceMean", "mean", ("r", "ax"), ("y",), {"keepdims": 0})]
    ts = {n: Tensor(n, (1, tokens, d), "float32") for n in ("x", "l", "m", "r")}
    ts["y"] = Tensor("y", (1, d), "float32")
    ts.update({k: Tensor(k, v.shape, str(v.dtype), v) for k, v in consts.items()})
    return Graph(tuple(nodes), ts, ("x",), ("y",), {"opset": 18})


def test_row_loop_kept_when_the_planned_arena_shrinks():
    g = _residual_block()
    out = save_memory(g)
    assert [n.op for n in out.nodes] == [ROW_LOOP, "ReduceMean"]
    assert out.nodes[0].attrs["inplace"] == {"r": "x"}
    # 512 B of x (the row loop writes r over it) + one row of LN and MatMul in its scratch
    assert planned_arena(out) == 512 + 64 + 64 < planned_arena(g)


def test_the_step_asks_its_cost_and_nothing_else():
    g = _residual_block()
    assert row_loops(g) is not g                              # the rewrite is possible...
    assert save_memory(g, cost=lambda _: 0) is g              # ...but a flat cost never pays
    assert save_memory(g, cost=lambda x: len(x.nodes)).nodes[0].op == ROW_LOOP


def test_memory_passes_end_with_the_one_step():
    assert MEMORY[-1] is save_memory
