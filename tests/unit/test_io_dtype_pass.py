"""passes/io_dtype.py on a hand-built graph: x -Q-> xq -Identity-> yq -DQ-> y."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.passes.io_dtype import io_dtype


def _graph(io: str | None, state_float: bool = False) -> Graph:
    c = lambda n, v, dt: Tensor(n, (), dt, np.asarray(v, dt))   # noqa: E731
    t = {"x": Tensor("x", (1, 4), "float32"), "xq": Tensor("xq", (1, 4), "int8"),
         "yq": Tensor("yq", (1, 4), "int8"), "y": Tensor("y", (1, 4), "float32"),
         "sx": c("sx", 0.5, "float32"), "zx": c("zx", -3, "int8"), "sy": c("sy", 0.25, "float32"),
         "zy": c("zy", 7, "int8")}
    nodes = [Node("QuantizeLinear", "q", ("x", "sx", "zx"), ("xq",)), Node("Identity", "id", ("xq",), ("yq",)),
             Node("DequantizeLinear", "dq", ("yq", "sy", "zy"), ("y",))]
    ins, outs = ("x",), ("y",)
    if state_float:   # a float input read by a float op stays float
        t["s"] = Tensor("s", (1, 4), "float32")
        t["s2"] = Tensor("s2", (1, 4), "float32")
        nodes.append(Node("Relu", "relu", ("s",), ("s2",)))
        ins, outs = ("x", "s"), ("y", "s2")
    return Graph(tuple(nodes), t, ins, outs, {"io_dtype": io} if io else {})


def test_float32_is_the_identity():
    g = _graph("float32")
    assert io_dtype(g) is g
    assert io_dtype(_graph(None)) is not None


@pytest.mark.parametrize("dtype,shift", [("int8", 0), ("uint8", 128)])
def test_edges_fold_into_the_callers_data(dtype, shift):
    g = io_dtype(_graph(dtype))
    assert [n.op for n in g.nodes] == ["Identity"]
    assert g.inputs == ("x",) and g.outputs == ("y",)
    assert g.nodes[0].inputs == ("x",) and g.nodes[0].outputs == ("y",)
    assert g.tensors["x"].dtype == "int8" and g.tensors["y"].dtype == "int8"   # uint8 is flipped at the C edge
    q = g.meta["io_quant"]
    assert q["inputs"] == [{"name": "x", "dtype": dtype, "scale": 0.5, "zero_point": -3 + shift}]
    assert q["outputs"] == [{"name": "y", "dtype": dtype, "scale": 0.25, "zero_point": 7 + shift}]
    assert "xq" not in g.tensors and "yq" not in g.tensors


def test_a_float_state_stays_float():
    g = io_dtype(_graph("int8", state_float=True))
    assert g.tensors["s"].dtype == "float32" and g.tensors["s2"].dtype == "float32"
    assert g.meta["io_quant"]["inputs"][1] is None and g.meta["io_quant"]["outputs"][1] is None
    assert g.meta["io_quant"]["inputs"][0]["dtype"] == "int8"
