"""int8_lut: an elementwise float island fed by ONE int8 tensor becomes a 256-entry table.

Pattern: Q(f(DQ(x))) where f is a DAG of elementwise ops (GELU's Div/Erf/Add/Mul/Mul, a Mul
by a scalar, Relu, Sigmoid, ..., and reshapes, which keep the element order) whose only non-constant input is DQ(x) (possibly read
several times) and whose other inputs are scalar constants (float, or DQ of an int8
constant). The output depends on the int8 value of x alone, so the whole island is the
table y = T[x + 128]. The table is computed at export time by running the island itself,
as an ONNX model, through onnxruntime on all 256 values: the numbers are onnxruntime's, bit
for bit. Pure: Graph -> Graph.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.qdq_util import int8_act, rebuild, sole_q

UNARY = {"Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal",
         "LeakyRelu", "Gelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Elu", "Selu",
         "Celu", "Floor", "Ceil", "Round", "Sin", "Cos", "Sign", "Mish", "ThresholdedRelu",
         "Identity", "Clip"}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "PRelu"}
# Same elements in the same order, new shape: transparent to a table (run as Identity).
RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
INT8 = np.arange(-128, 128, dtype=np.int8)


def _is_scalar_const(g: Graph, name: str) -> bool:
    """A constant (or DQ of one) with one element: it cannot change the shape or the index."""
    if not name:
        return True
    t = g.tensors[name]
    if t.is_const:
        return t.numel == 1
    p = g.producer(name)
    return (p is not None and p.op == "DequantizeLinear" and g.tensors[p.inputs[0]].is_const
            and t.numel == 1)


def _island(g: Graph, sink: str):
    """Nodes computing float `sink` from one int8 tensor: (x, root DQ nodes, island) or None."""
    island: list[Node] = []
    roots: dict[int, Node] = {}
    stack, seen = [sink], set()
    x = None
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        act = int8_act(g, name)
        if act is not None:
            if x is not None and act[0] != x[0]:
                return None
            x = act
            dq = g.producer(name)
            roots[id(dq)] = dq
            continue
        p = g.producer(name)
        if p is None or not (p.op in UNARY or p.op in BINARY or p.op in RESHAPES):
            return None
        if len([o for o in p.outputs if o]) != 1:
            return None
        island.append(p)
        for i in (p.inputs[:1] if p.op in RESHAPES else p.inputs):
            if _is_scalar_const(g, i):
                continue
            stack.append(i)
    if x is None or not island:
        return None
    ids = {id(n) for n in island}
    for n in island:   # inner values must stay inside: nobody else reads them
        if n.outputs[0] != sink and (n.outputs[0] in g.outputs or
                                     any(id(c) not in ids for c in g.consumers(n.outputs[0]))):
            return None
    return x, list(roots.values()), island


def _island_model(g: Graph, x_name: str, roots: list[Node], island: list[Node], q: Node):
    """The island as a standalone ONNX model over a (256,) int8 input, in graph order."""
    order = {id(n): i for i, n in enumerate(g.nodes)}
    nodes = sorted(roots + island, key=lambda n: order[id(n)]) + [q]
    inits, onnx_nodes, const_dq = {}, [], []
    taken = {id(n) for n in nodes}
    for n in nodes:
        for i in (n.inputs[:1] if n.op in RESHAPES else n.inputs):
            if not i or i == x_name or i in inits:
                continue
            t = g.tensors[i]
            if t.is_const:
                inits[i] = numpy_helper.from_array(np.asarray(t.data), i)
            else:
                p = g.producer(i)
                if p is not None and p.op == "DequantizeLinear" and id(p) not in taken:
                    const_dq.append(p)   # DQ of a scalar constant
                    taken.add(id(p))
                    for c in p.inputs:
                        if c and c not in inits:
                            inits[c] = numpy_helper.from_array(np.asarray(g.tensors[c].data), c)
    for n in const_dq + nodes:
        # The (256,) input broadcasts like the real tensor: every other operand is a scalar.
        if n.op in RESHAPES:
            onnx_nodes.append(helper.make_node("Identity", [n.inputs[0]], [n.outputs[0]],
                                               name=n.name))
            continue
        onnx_nodes.append(helper.make_node(n.op, list(n.inputs), list(n.outputs), name=n.name,
                                           **n.attrs))
    y = q.outputs[0]
    graph = helper.make_graph(onnx_nodes, "lut", [helper.make_tensor_value_info(
        x_name, onnx.TensorProto.INT8, [256])], [helper.make_tensor_value_info(
            y, onnx.TensorProto.INT8, None)], list(inits.values()))
    opset = g.meta.get("opset") or 17
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 9)
    return model


def lut_table(g: Graph, x_name: str, roots: list[Node], island: list[Node], q: Node) -> np.ndarray:
    """The int8 table T with T[v + 128] = island(v), computed by onnxruntime."""
    from edgeformer.export.onnx_check import session  # noqa: PLC0415 (slow import)
    model = _island_model(g, x_name, roots, island, q)
    out = session(model.SerializeToString()).run(None, {x_name: INT8})[0]
    return np.asarray(out, np.int8).reshape(-1)


def int8_lut(graph: Graph) -> Graph:
    tensors = dict(graph.tensors)
    replaced: dict[int, Node | None] = {}
    for q in graph.nodes:
        if q.op != "QuantizeLinear":
            continue
        fl = q.inputs[0]
        hit = sole_q(graph, fl)
        found = _island(graph, fl) if hit is not None and hit[0] is q else None
        if found is None:
            continue
        (x, _), roots, island = found
        y = q.outputs[0]
        if graph.tensors[x].numel != graph.tensors[y].numel:
            continue
        table = lut_table(graph, x, roots, island, q)
        t_name = f"{q.name}.lut"
        tensors[t_name] = Tensor(t_name, (256,), "int8", table)
        replaced[id(q)] = Node("ef.LUT", q.name, (x, t_name), (y,),
                               {"ops": [n.op for n in island]})
    return rebuild(graph, replaced, tensors)
