"""io_dtype: the graph's edge QuantizeLinear / DequantizeLinear fold into the caller's data.

`export --io-dtype int8|uint8` sets `graph.meta["io_dtype"]`; without it (or with float32)
this pass returns the graph unchanged. With it:

- a float graph input read only by per-tensor int8 QuantizeLinear nodes of one (scale, zp)
  is dropped with those nodes: their int8 output becomes the graph input, under the input's
  own name (the caller hands over the quantised data, as camera pixels and ADC samples
  arrive, and the model reads it where it lies);
- a float graph output written by a per-tensor int8 DequantizeLinear is dropped with it:
  the int8 tensor it read becomes the graph output, under the output's name.

Each I/O's quantisation goes to `graph.meta["io_quant"]` ({"inputs": [...], "outputs":
[...]}, one entry per graph input/output: None when it stays float, else name, dtype,
scale, zero_point). uint8 is int8 with the sign bit flipped (zero point + 128): the IR
tensor stays int8 and the C API flips the bytes in place at the edge (writer.py), so the
kernels never see uint8. An I/O that does not match (a state input read by float nodes, a
per-channel DequantizeLinear) stays float and says so with None. Pure: Graph -> Graph.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from edgeformer.export.ir import Graph, Node
from edgeformer.export.passes.qdq_util import prune, qparams

IO_DTYPES = ("float32", "int8", "uint8")


def _per_tensor(g: Graph, node: Node) -> tuple[float, int] | None:
    p = qparams(g, node)
    if p is None or p[0].size != 1 or p[1].size != 1:
        return None
    return float(np.float32(p[0].reshape(-1)[0])), int(p[1].reshape(-1)[0])


def _record(name: str, dtype: str, scale: float, zp: int) -> dict:
    return {"name": name, "dtype": dtype, "scale": scale, "zero_point": zp + (128 if dtype == "uint8" else 0)}


def _fold_input(g: Graph, name: str, dtype: str):
    """(dropped Q nodes, int8 tensor name, record) or None when input `name` stays float."""
    if g.tensors[name].dtype != "float32" or name in g.outputs:
        return None
    cons = g.consumers(name)
    if not cons or any(c.op != "QuantizeLinear" or c.inputs[0] != name for c in cons):
        return None
    params = {_per_tensor(g, c) for c in cons}
    if len(params) != 1 or None in params or any(g.tensors[c.outputs[0]].dtype != "int8" for c in cons):
        return None
    (scale, zp), = params
    return cons, [c.outputs[0] for c in cons], _record(name, dtype, scale, zp)


def _fold_output(g: Graph, name: str, dtype: str):
    """(dropped DQ node, int8 tensor name, record) or None when output `name` stays float."""
    dq = g.producer(name)
    if dq is None or dq.op != "DequantizeLinear" or g.consumers(name):
        return None
    src = dq.inputs[0]
    qp = _per_tensor(g, dq)
    if (qp is None or g.tensors[src].dtype != "int8" or g.tensors[src].is_const or src in g.inputs
            or src in g.outputs or g.outputs.count(name) != 1):
        return None
    return dq, src, _record(name, dtype, *qp)


def io_dtype(graph: Graph) -> Graph:
    dtype = graph.meta.get("io_dtype", "float32")
    if dtype == "float32":
        return graph
    if dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype {dtype!r}: choose one of {IO_DTYPES}")
    rename: dict[str, str] = {}     # int8 tensor -> the I/O name it takes over
    dropped: set[int] = set()
    records: dict[str, list] = {"inputs": [], "outputs": []}
    for name in graph.inputs:
        m = _fold_input(graph, name, dtype)
        records["inputs"].append(m and m[2])
        if m:
            dropped |= {id(q) for q in m[0]}
            rename.update({t: name for t in m[1]})
    for name in graph.outputs:
        m = _fold_output(graph, name, dtype)
        records["outputs"].append(m and m[2])
        if m:
            dropped.add(id(m[0]))
            rename[m[1]] = name
    if not rename:
        return graph.replace(meta={**graph.meta, "io_quant": records})
    tensors = dict(graph.tensors)
    for src, dst in rename.items():
        t = tensors.pop(src)
        rec = next(r for r in records["inputs"] + records["outputs"] if r and r["name"] == dst)
        tensors[dst] = dataclasses.replace(t, name=dst, scale=np.asarray(rec["scale"], np.float32),
                                           zero_point=np.asarray(rec["zero_point"] - (128 if dtype == "uint8" else 0),
                                                                 np.int8))
    r = lambda ts: tuple(rename.get(t, t) for t in ts)   # noqa: E731
    nodes = [dataclasses.replace(n, inputs=r(n.inputs), outputs=r(n.outputs))
             for n in graph.nodes if id(n) not in dropped]
    out = graph.replace(nodes=tuple(nodes), meta={**graph.meta, "io_quant": records})
    return prune(nodes, out, tensors)
