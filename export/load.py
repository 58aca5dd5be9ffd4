"""load_onnx: an ONNX model (file or ModelProto) -> Graph with static shapes everywhere.

Steps: check the model, require static input shapes, fold constants (initializers,
Constant nodes, Shape of static tensors and any node whose inputs are all constant),
infer every remaining tensor's shape/dtype (ONNX shape inference, then one onnxruntime
run on zeros for what is still unknown), and refuse ops the native backend lacks.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from edgeformer.errors import UserError
from edgeformer.export.emit.registry import supported_ops
from edgeformer.export.ir import DTYPE_BYTES, Graph, Node, Tensor

ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT8: "int8",
               onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT16: "int16",
               onnx.TensorProto.INT32: "int32", onnx.TensorProto.INT64: "int64",
               onnx.TensorProto.BOOL: "bool"}
# Folding these would turn int8 weights into float ones: the int8 path needs them as nodes.
NO_FOLD = {"DequantizeLinear", "QuantizeLinear"}


def _read(src) -> tuple[onnx.ModelProto, str]:
    if isinstance(src, onnx.ModelProto):
        return src, "<in-memory model>"
    path = Path(src)
    if not path.is_file():
        raise UserError(f"{path}: no such ONNX file; pass the path of a .onnx model")
    try:
        return onnx.load(os.fspath(path)), str(path)
    except Exception as e:  # protobuf decode errors have no common base class
        raise UserError(f"{path} is not a valid ONNX model: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _dtype(elem_type: int, name: str) -> str:
    if elem_type not in ONNX_DTYPES:
        tname = onnx.TensorProto.DataType.Name(elem_type) if elem_type else "unknown"
        raise UserError(f"tensor {name} has dtype {tname}; supported: "
                        f"{sorted(set(ONNX_DTYPES.values()))}")
    return ONNX_DTYPES[elem_type]


def _np_dtype(arr: np.ndarray, name: str) -> str:
    d = "bool" if arr.dtype == np.bool_ else str(arr.dtype)
    if d not in DTYPE_BYTES:
        raise UserError(f"constant {name} has dtype {d}; supported: {sorted(DTYPE_BYTES)}")
    return d


def _static_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    ins = [i for i in model.graph.input if i.name not in inits]
    for vi in ins:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise UserError(f"input {vi.name} is not a tensor; only tensor inputs are supported")
        if not tt.HasField("shape"):
            raise UserError(f"input {vi.name} has no shape; export the model with fixed shapes")
        for k, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value == 0:
                raise UserError(f"input {vi.name} has a zero-size dimension {k}; empty tensors "
                                "are not supported")
            if not d.HasField("dim_value") or d.dim_value < 0:
                sym = d.dim_param or "?"
                raise UserError(f"input {vi.name} has a dynamic dimension {k} ({sym!r}); export "
                                "the model with fixed input shapes (no dynamic_axes), or pass "
                                f"--input-shape {vi.name}=DIMS to `edgeformer export --onnx`")
    return ins


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    a = node.attribute[0]
    if a.name == "value":
        return numpy_helper.to_array(a.t)
    simple = {"value_float": (np.float32, a.f), "value_int": (np.int64, a.i),
              "value_floats": (np.float32, list(a.floats)), "value_ints": (np.int64, list(a.ints))}
    if a.name in simple:
        dt, v = simple[a.name]
        return np.asarray(v, dtype=dt)
    raise UserError(f"Constant node {node.name or node.output[0]}: {a.name} values are not "
                    "supported; use a dense tensor")


def _eval_node(node: onnx.NodeProto, consts: dict, opset: list) -> list[np.ndarray]:
    """Evaluate one node on constant inputs with the ONNX reference implementation."""
    from onnx.reference import ReferenceEvaluator  # noqa: PLC0415 (slow import, rarely used)
    ins = [n for n in node.input if n]
    g = onnx.helper.make_graph(
        [node], "fold", [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(
            consts[n].dtype), consts[n].shape) for n in ins],
        [onnx.helper.make_empty_tensor_value_info(o) for o in node.output if o])
    m = onnx.helper.make_model(g, opset_imports=opset)
    return ReferenceEvaluator(m).run(None, {n: consts[n] for n in ins})


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode() for x in v]
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


def _fold(model: onnx.ModelProto, shapes: dict) -> tuple[list[onnx.NodeProto], dict]:
    """Constants from initializers, Constant nodes, Shape/Size of static tensors and nodes
    whose inputs are all constant; returns the nodes that stay and the constants."""
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        ins = [n for n in node.input if n]
        if node.op_type == "Constant":
            consts[node.output[0]] = _constant_node_value(node)
        elif node.op_type in ("Shape", "Size") and ins[0] in shapes and node.domain in ("", "ai.onnx"):
            if node.op_type == "Size":
                consts[node.output[0]] = np.asarray(int(np.prod(shapes[ins[0]][0])), np.int64)
            else:
                s = list(shapes[ins[0]][0])
                a = {x.name: x.i for x in node.attribute}
                consts[node.output[0]] = np.asarray(s[slice(a.get("start", 0), a.get("end"))],
                                                    np.int64)
        elif (ins and all(n in consts for n in ins) and node.op_type not in NO_FOLD
              and node.domain in ("", "ai.onnx")):
            try:
                vals = _eval_node(node, consts, list(model.opset_import))
            except Exception as e:
                raise UserError(f"cannot fold constant node {node.name or node.op_type} "
                                f"({node.op_type}): {_first_line(e)}") from None
            for o, v in zip([o for o in node.output if o], vals):
                consts[o] = np.asarray(v)
        else:
            keep.append(node)
    return keep, consts


def _infer(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...], int]]:
    """name -> (shape, elem_type) for every tensor ONNX shape inference pins down."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:
        inferred = model
    out = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        if all(d >= 0 for d in dims) and tt.elem_type:
            out[vi.name] = (tuple(dims), tt.elem_type)
    return out


def _run_ort(model: onnx.ModelProto, ins, missing: list[str]) -> dict:
    """Shapes the inference missed: run onnxruntime once on zeros, every tensor an output."""
    import onnxruntime as ort  # noqa: PLC0415
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for n in missing:
        m.graph.output.append(onnx.ValueInfoProto(name=n))
    try:
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {}
        for vi in ins:
            tt = vi.type.tensor_type
            dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
            feeds[vi.name] = np.zeros([d.dim_value for d in tt.shape.dim], dtype=dt)
        res = sess.run(missing, feeds)
    except Exception as e:
        raise UserError(f"cannot determine the shapes of {missing[:5]} (onnxruntime: "
                        f"{_first_line(e)}); export the model with static shapes") from None
    return {n: (tuple(r.shape), onnx.helper.np_dtype_to_tensor_dtype(r.dtype))
            for n, r in zip(missing, res)}


def load_onnx(src) -> Graph:
    """Load and check an ONNX model; return its Graph (static shapes, constants folded)."""
    model, source = _read(src)
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise UserError(f"{source} is not a valid ONNX model: {_first_line(e)}") from None
    ins = _static_inputs(model)
    shapes = _infer(model)
    nodes, consts = _fold(model, shapes)
    _check_supported(nodes)
    names = [t for n in nodes for t in (*n.input, *n.output) if t]
    names += [o.name for o in model.graph.output]
    missing = sorted({t for t in names if t not in consts and t not in shapes})
    if missing:
        shapes.update(_run_ort(model, ins, missing))
    tensors: dict[str, Tensor] = {}
    for name in dict.fromkeys(names + [vi.name for vi in ins]):
        if name in consts:
            data = np.array(consts[name], order="C")  # (ascontiguousarray turns 0-d into 1-d)
            tensors[name] = Tensor(name, tuple(data.shape), _np_dtype(data, name), data)
        else:
            shape, et = shapes[name]
            tensors[name] = Tensor(name, tuple(int(d) for d in shape), _dtype(et, name))
    gnodes = tuple(Node(n.op_type, n.name or f"{n.op_type}_{i}", tuple(n.input), tuple(n.output),
                        _attrs(n)) for i, n in enumerate(nodes))
    tensors = _annotate_quant(gnodes, tensors)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    meta = {"source": source, "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "opset": opset, "ir_version": model.ir_version}
    return Graph(gnodes, tensors, tuple(vi.name for vi in ins),
                 tuple(o.name for o in model.graph.output), meta)


def _check_supported(nodes) -> None:
    """Every unsupported op at once, each with its nodes (a user fixes them in one pass)."""
    supported = set(supported_ops())
    bad: dict[str, list[str]] = {}
    for n in nodes:
        if n.op_type not in supported or n.domain not in ("", "ai.onnx"):
            op = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            bad.setdefault(op, []).append(n.name or n.output[0])
    if not bad:
        return
    parts = []
    for op, names in bad.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{op} (node{'s' if len(names) > 1 else ''} {shown})")
    raise UserError(f"unsupported op{'s' if len(bad) > 1 else ''} {'; '.join(parts)}; "
                    f"supported: {sorted(supported)}")


def _annotate_quant(nodes, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The int8 side of each Q/DQ node gets its scale, zero point and axis."""
    out = dict(tensors)
    for n in nodes:
        if n.op not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        q = n.inputs[0] if n.op == "DequantizeLinear" else n.outputs[0]
        scale = tensors[n.inputs[1]].data
        zp = tensors[n.inputs[2]].data if len(n.inputs) > 2 and n.inputs[2] else None
        if scale is None:
            continue
        axis = n.attrs.get("axis", 1) if scale.size > 1 else None
        t = out[q]
        if axis is not None:
            axis %= len(t.shape)
        out[q] = Tensor(t.name, t.shape, t.dtype, t.data, scale, zp, axis)
    return out
