"""Helpers for the int8 pass tests: hand-built QDQ models (the shapes onnxruntime's QDQ
quantiser writes), graph validity, and running a Graph's C against onnxruntime."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.ir import Graph


class QDQBuilder:
    """Nodes and initializers of a small QDQ model, named in order."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.k = 0

    def _name(self, tag: str) -> str:
        self.k += 1
        return f"{tag}{self.k}"

    def const(self, value, dtype=np.float32) -> str:
        name = self._name("c")
        self.inits.append(nh.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, n_out: int = 1, **attrs):
        outs = [self._name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(h.make_node(op_type, list(inputs), outs, name=self._name("n"), **attrs))
        return outs[0] if n_out == 1 else outs

    def q(self, x: str, scale: float, zp: int) -> str:
        return self.op("QuantizeLinear", x, self.const(scale), self.const(zp, np.int8))

    def dq(self, xq: str, scale: float, zp: int) -> str:
        return self.op("DequantizeLinear", xq, self.const(scale), self.const(zp, np.int8))

    def qdq(self, x: str, scale: float, zp: int) -> str:
        return self.dq(self.q(x, scale, zp), scale, zp)

    def model(self, inputs: dict[str, tuple[int, ...]], outputs: list[str],
              opset: int = 17) -> onnx.ModelProto:
        g = h.make_graph(self.nodes, "t", [h.make_tensor_value_info(n, T.FLOAT, s)
                                           for n, s in inputs.items()],
                         [h.make_tensor_value_info(o, T.FLOAT, None) for o in outputs], self.inits)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
        m.ir_version = 8
        ig = onnx.shape_inference.infer_shapes(m).graph
        inferred = {v.name: v for v in [*ig.value_info, *ig.output]}
        for o in m.graph.output:   # outputs need their static shapes
            o.type.CopyFrom(inferred[o.name].type)
        return m


def assert_valid(g: Graph) -> None:
    """Every input exists before its reader; every named tensor is in g.tensors."""
    have = set(g.inputs) | {n for n, t in g.tensors.items() if t.is_const}
    for node in g.nodes:
        for i in node.inputs:
            assert not i or i in have, f"{node.name} reads {i} before it is written"
        have |= {o for o in node.outputs if o}
    for o in g.outputs:
        assert o in have, f"output {o} is never written"
    names = {t for n in g.nodes for t in (*n.inputs, *n.outputs) if t}
    assert names <= set(g.tensors)


def float_activations(g: Graph) -> list[str]:
    """Float activations other than the graph's own float inputs/outputs."""
    io = set(g.inputs) | set(g.outputs)
    return [t.name for t in g.activations() if t.dtype == "float32" and t.name not in io]


def ort_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """onnxruntime, graph optimisation off: one sample at a time, stacked."""
    from edgeformer.export.onnx_check import session
    sess = session(model.SerializeToString())
    n = len(next(iter(feeds.values())))
    runs = [sess.run(None, {k: v[i] for k, v in feeds.items()}) for i in range(n)]
    return [np.stack([r[j] for r in runs]) for j in range(len(runs[0]))]


def c_outputs(g: Graph, inputs: list[np.ndarray], tmp: Path) -> list[np.ndarray]:
    """Plan (memory.plan_graph: node scratch and in-place rules included), emit, build with
    -Werror and run `g` on batched inputs."""
    from edgeformer.export.emit import emit_c
    from edgeformer.export.memory import plan_graph
    from edgeformer.runtime.host import build_host, run_host
    plan = plan_graph(g)
    emit_c(g, dict(plan.offsets), plan.arena_bytes, tmp / "c")
    exe = build_host(tmp / "c", tmp / "model.exe", extra_cflags=("-O1", "-Werror"))
    return run_host(exe, inputs)


def steps_report(got: np.ndarray, want: np.ndarray, scale: float, max_steps: float) -> str | None:
    """None when |got - want| <= max_steps output steps everywhere, else where and how many."""
    steps = np.abs(got.astype(np.float64) - want) / scale
    bad = np.flatnonzero(steps.ravel() > max_steps + 1e-3)
    if bad.size == 0:
        return None
    i = bad[0]
    return (f"at {i}: got {got.ravel()[i]}, want {want.ravel()[i]}; {bad.size} of {steps.size} "
            f"differ by more than {max_steps} step(s)")
