"""export/memory: lifetimes, the in-place (alias) rule, the rules themselves, plan_graph and
make_plan, on hand-built graphs with hand-computed spans and offsets."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.memory import (ALIGNMENT, IN_PLACE_RULES, BufferReq, buffer_requests,
                                      inplace_map, lifetimes, op_spans, plan_graph,
                                      plan_loop_body, reshape_aliases, scratch_name,
                                      token_overwrites)
from edgeformer.export.plan import make_plan


def _graph(nodes, shapes, inputs=("x",), outputs=("y",), consts=()):
    ts = {n: Tensor(n, s, "float32") for n, s in shapes.items()}
    for n, arr in dict(consts).items():
        ts[n] = Tensor(n, arr.shape, str(arr.dtype), arr)
    return Graph(tuple(nodes), ts, tuple(inputs), tuple(outputs), {"opset": 17})


def _chain(inplace_b: dict | None = None):
    """x (16 B) -> a = x @ w1 (64 B) -> b = Sigmoid(a) (64 B, may overwrite a) -> y = b @ w2 (16 B)."""
    nodes = [Node("MatMul", "n0", ("x", "w1"), ("a",)),
             Node("Sigmoid", "n1", ("a",), ("b",), {"inplace": inplace_b or {}}),
             Node("MatMul", "n2", ("b", "w2"), ("y",))]
    return _graph(nodes, {"x": (1, 4), "a": (1, 16), "b": (1, 16), "y": (1, 4)},
                  consts={"w1": np.zeros((4, 16), np.float32), "w2": np.zeros((16, 4), np.float32)})


# ---------------------------------------------------------------- lifetimes
def test_lifetimes_inputs_from_op0_outputs_to_the_last_op_constants_skipped():
    g = _chain()
    assert lifetimes(g) == {"x": (0, 0), "a": (0, 1), "b": (1, 2), "y": (2, 2)}
    # a graph output read by an early op stays live to the end (the caller reads it after)
    nodes = [Node("Relu", "n0", ("x",), ("a",)), Node("Neg", "n1", ("a",), ("b",)),
             Node("Abs", "n2", ("b",), ("c",))]
    g2 = _graph(nodes, {n: (1, 4) for n in "xabc"}, outputs=("a", "c"))
    assert lifetimes(g2)["a"] == (0, 2)


def test_op_spans_is_the_same_rule_for_a_call_list():
    """The TVM backend's call list goes through op_spans: the same spans as the Graph."""
    g = _chain()
    calls = [(n.inputs, n.outputs) for n in g.nodes]
    assert op_spans(g.inputs, calls, g.outputs, lambda t: t.startswith("w")) == lifetimes(g)


# ---------------------------------------------------------------- the alias rule
def test_inplace_becomes_alias_only_where_the_input_dies():
    g = _chain()
    reqs = {r.name: r for r in buffer_requests(g, {"b": "a"})}
    assert reqs["b"].alias_of == "a"   # a's last reader is n1, which writes b
    assert all(r.alias_of is None for n, r in reqs.items() if n != "b")
    # a read again after n1: overwriting it would clobber that read -> no alias
    nodes = [*g.nodes[:2], Node("Add", "n2", ("b", "a"), ("y",))]
    g2 = g.replace(nodes=tuple(nodes))
    assert {r.name: r.alias_of for r in buffer_requests(g2, {"b": "a"})}["b"] is None


def test_inplace_never_overwrites_a_graph_output_or_a_constant():
    nodes = [Node("Relu", "n0", ("x",), ("a",)), Node("Neg", "n1", ("a",), ("y",))]
    g = _graph(nodes, {n: (1, 4) for n in "xay"}, outputs=("a", "y"))
    assert {r.name: r.alias_of for r in buffer_requests(g, {"y": "a"})}["y"] is None
    g = _chain()
    assert {r.name: r.alias_of for r in buffer_requests(g, {"y": "w2"})}["y"] is None


def test_scratch_request_lives_at_its_node_only():
    g = _chain()
    nodes = (g.nodes[0], Node("Sigmoid", "n1", ("a",), ("b",), {"scratch_bytes": 40}), g.nodes[2])
    reqs = buffer_requests(g.replace(nodes=nodes))
    assert BufferReq(scratch_name("n1"), 40, 1, 1) in reqs
    assert len(reqs) == 5   # x, a, b, y + the scratch


# ---------------------------------------------------------------- the rules
def test_reshape_alias_rule_skips_constant_inputs():
    shp = np.asarray([1, 16], np.int64)
    nodes = [Node("Reshape", "r0", ("x", "s"), ("a",)), Node("Reshape", "r1", ("c", "s"), ("b",)),
             Node("Add", "n2", ("a", "b"), ("y",))]
    g = _graph(nodes, {"x": (16,), "a": (1, 16), "b": (1, 16), "y": (1, 16)},
               consts={"s": shp, "c": np.zeros(16, np.float32)})
    assert reshape_aliases(g) == {"a": "x"}


def test_rules_merge_in_order_token_overwrites_last():
    g = _chain({"b": "a"})
    assert token_overwrites(g) == {"b": "a"}
    assert inplace_map(g) == {"b": "a"}
    assert inplace_map(g, ()) == {}
    assert IN_PLACE_RULES[-1] is token_overwrites


# ---------------------------------------------------------------- plan_graph
def test_plan_graph_by_hand_with_and_without_token_overwriting():
    # Live bytes per op: x+a 80, a+b 128, b+y 80. With b over a, op1 holds 64: bound 80,
    # reached by a and b at 0, x and y above them at 64.
    plain = plan_graph(_chain())
    assert (plain.arena_bytes, plain.liveness_bound_bytes, plain.alignment) == (128, 128, ALIGNMENT)
    fused = plan_graph(_chain({"b": "a"}))
    assert fused.arena_bytes == fused.liveness_bound_bytes == 80
    assert dict(sorted(fused.offsets.items())) == {"a": 0, "b": 0, "x": 64, "y": 64}
    assert {b.name for b in fused.buffers} == {"x", "a", "b", "y"}
    assert plan_graph(_chain({"b": "a"}), rules=()).arena_bytes == 128   # rules off: no alias


def test_plan_loop_body_plans_only_the_body_intermediates():
    g = _chain({"b": "a"})
    offsets, scratch = plan_loop_body(g, {"x", "y"})
    assert set(offsets) == {"a", "b"} and scratch == 64   # b over a, both in one row
    offsets, scratch = plan_loop_body(g, {"x", "y", "a"})
    assert set(offsets) == {"b"} and scratch == 64        # alias to an outer tensor dropped
    assert plan_loop_body(g, {"x", "a", "b", "y"}) == ({}, 0)


# ---------------------------------------------------------------- make_plan
def test_make_plan_figures_come_from_both_graphs():
    unfused, fused = _chain(), _chain({"b": "a"})
    d, bufs, placed, _ = make_plan(unfused, fused)
    assert d["arena_bytes"] == placed.arena_bytes == 80
    assert d["unfused_liveness_bound_bytes"] == 128   # the unfused graph, no in-place rules
    assert d["no_reuse_bytes"] == 16 + 64 + 64 + 16
    assert (d["ops"], d["unfused_ops"]) == (3, 3)
    assert d["buffers"] == [{"name": b.name, "offset": placed.offsets[b.name], "size": b.size,
                             "first_op": b.first_op, "last_op": b.last_op} for b in bufs]
    assert d["graph_weights_bytes"] == 2 * 64 * 4     # w1, w2: 64 float32 each


@pytest.mark.parametrize("size", [1, 15, 16, 17])
def test_sizes_are_planned_aligned(size):
    nodes = [Node("Relu", "n0", ("x",), ("y",))]
    g = Graph(tuple(nodes), {"x": Tensor("x", (size,), "int8"), "y": Tensor("y", (size,), "int8")},
              ("x",), ("y",), {})
    plan = plan_graph(g)
    assert plan.arena_bytes == 2 * (-(-size // ALIGNMENT) * ALIGNMENT)
    assert all(o % ALIGNMENT == 0 for o in plan.offsets.values())
