"""Exporter idioms that no clean-up library rewrites, turned into ops the native backend has.

Each rule is a function `(model) -> int` (how many places it rewrote) over an ONNX
ModelProto, run once in `RULES` order after onnxscript's optimizer and constant folding
(export/foreign.py). They change no numerics on finite inputs:

- `softmax_nan_guard`: torch's scaled-dot-product decomposition (dynamo) writes
  Where(IsNaN(p), 0, p) after the Softmax p; a softmax of finite scores is never NaN, and the
  masks the corpus' exporters write are finite (-3.4e38, not -inf), so the guard is p itself;
- `einsum_matmul`: Einsum of attention shapes ("bhqd,bhkd->bhqk", "bhqk,bhkd->bhqd", and
  any equation that is a batched matrix product up to transposes) -> Transpose + MatMul;
- `cast_chain`: Cast(Cast(x, a), b) where `a` is wider than x and b (lossless) -> Cast(x, b);
  a Cast to the dtype x already has -> x;
- `nan_inf_tests`: IsNaN(x) -> Not(Equal(x, x)); IsInf(x) -> Equal(Abs(x), inf) (or x == +inf
  / x == -inf per its detect_* attributes) on run-time tensors (constants are folded before);
- `trilu_mask`: Trilu(x, k) on a run-time tensor -> Where(constant band mask, x, 0) (a causal
  mask of a shape the exporter left computed);
- `resize_matmul`: Resize of the last one or two axes (any mode: linear, nearest, cubic; every
  coordinate transformation) -> MatMul by constant interpolation matrices, R_h @ X @ R_w^T. The
  matrices are Resize itself (onnxruntime, the numerics truth) applied to identity bases, so
  they are exact for every mode the op is separable in, which is all of ONNX's.

- `gathernd_const`: GatherND(x, constant indices) (the dynamo exporter's spelling of indexing
  a mask with a fixed index grid) -> Reshape to (prod of the indexed dims, rest) + Gather of
  the flat positions.

- `gather_elements_1d`: GatherElements(data, idx, axis) where data has size 1 on every other axis
  (a position or token-type buffer indexed by run-time positions), or where idx is constant
  (DeBERTa's relative-position gathers of run-time scores) -> Gather of the flattened data
  (by the flat positions of every element, for a constant idx);
- `int_arith_as_float`: integer arithmetic on run-time tensors (Add, Sub, Mul, Neg, Abs, Max,
  Min, CumSum, comparisons: position ids computed from the token ids, as RoBERTa does) runs in
  float32 between Casts: exact for values within +-2^24, which ids and positions are;
- `cumsum_matmul`: CumSum along the last axis (float) -> MatMul by a constant triangular matrix.

The last seven replace an op with ones the native backend already has kernels for, so no new
kernel is needed (and int8 quantises the MatMuls like any other).

Two more, in export/foreign_views.py, put attention in the form the memory passes read: a
packed q/k/v projection's views (MultiheadAttention, timm, chunk) as Slices of its columns, and
Transposes of size-1 axes as Reshapes.
"""
from __future__ import annotations

import collections

import numpy as np


class _G:
    """Producer/consumer maps over a ModelProto's main graph, rebuilt per rule."""

    def __init__(self, model):
        self.m, self.g = model, model.graph
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers = collections.defaultdict(list)
        for n in self.g.node:
            for i in n.input:
                self.consumers[i].append(n)
        self.inits = {i.name: i for i in self.g.initializer}
        self.outputs = {o.name for o in self.g.output}

    def const(self, name: str):
        from onnx import numpy_helper
        t = self.inits.get(name)
        return None if t is None else numpy_helper.to_array(t)

    def replace_uses(self, old: str, new: str) -> bool:
        """Every reader of `old` reads `new`; refused (False) when `old` is a graph output."""
        if old in self.outputs:
            return False
        for n in self.consumers.get(old, []):
            for k, i in enumerate(n.input):
                if i == old:
                    n.input[k] = new
        return True

    def dtype(self, name: str) -> int | None:
        for vi in list(self.g.value_info) + list(self.g.input) + list(self.g.output):
            if vi.name == name and vi.type.tensor_type.elem_type:
                return vi.type.tensor_type.elem_type
        t = self.inits.get(name)
        return t.data_type if t is not None else None


def _drop_dead(model) -> None:
    """Remove nodes none of whose outputs is read (iterated), and unread initializers."""
    g = model.graph
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        keep = [n for n in g.node if any(o in used for o in n.output if o)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)


def softmax_nan_guard(model) -> int:
    G, count = _G(model), 0
    for w in list(G.g.node):
        if w.op_type != "Where" or len(w.input) != 3:
            continue
        c, a, b = w.input
        isnan = G.producer.get(c)
        if isnan is None or isnan.op_type not in ("IsNaN", "IsInf") or isnan.input[0] != b:
            continue
        src = G.producer.get(b)
        if src is None or src.op_type not in ("Softmax", "LogSoftmax"):
            continue
        if G.replace_uses(w.output[0], b):
            count += 1
    return count


def _einsum_plan(eq: str):
    """'bhqd,bhkd->bhqk' -> (perm_a, perm_b, perm_out) making it A' @ B' (batch dims first), or None."""
    eq = eq.replace(" ", "")
    if "->" not in eq or "..." in eq:
        return None
    lhs, out = eq.split("->")
    parts = lhs.split(",")
    if len(parts) != 2:
        return None
    a, b = parts
    if len(set(a)) != len(a) or len(set(b)) != len(b) or len(set(out)) != len(out):
        return None
    batch = [c for c in out if c in a and c in b]
    m = [c for c in a if c not in b and c in out]
    n = [c for c in b if c not in a and c in out]
    k = [c for c in a if c in b and c not in out]
    if len(m) != 1 or len(n) != 1 or len(k) != 1 or set(a) != set(batch + m + k) or set(b) != set(batch + n + k):
        return None
    pa = [a.index(c) for c in batch + m + k]
    pb = [b.index(c) for c in batch + k + n]
    prod = batch + m + n
    po = [prod.index(c) for c in out]
    return pa, pb, po


def einsum_matmul(model) -> int:
    import onnx
    G, count = _G(model), 0
    nodes = []
    for n in G.g.node:
        eq = next((onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "equation"), None)
        plan = _einsum_plan(eq.decode() if isinstance(eq, bytes) else eq) if n.op_type == "Einsum" and eq else None
        if plan is None:
            nodes.append(n)
            continue
        pa, pb, po = plan
        base = n.name or n.output[0]
        ins = []
        for x, perm, tag in ((n.input[0], pa, "a"), (n.input[1], pb, "b")):
            if perm == sorted(perm):
                ins.append(x)
            else:
                t = f"{base}/einsum_{tag}T"
                nodes.append(onnx.helper.make_node("Transpose", [x], [t], name=f"{base}/Transpose_{tag}", perm=perm))
                ins.append(t)
        if po == sorted(po):
            nodes.append(onnx.helper.make_node("MatMul", ins, [n.output[0]], name=f"{base}/MatMul"))
        else:
            t = f"{base}/einsum_mm"
            nodes.append(onnx.helper.make_node("MatMul", ins, [t], name=f"{base}/MatMul"))
            nodes.append(onnx.helper.make_node("Transpose", [t], [n.output[0]], name=f"{base}/Transpose_out", perm=po))
        count += 1
    if count:
        del G.g.node[:]
        G.g.node.extend(nodes)
    return count


_WIDTH = {"float64": 64, "float32": 32, "int64": 64, "int32": 32, "int16": 16, "int8": 8, "uint8": 8, "bool": 1}


def _np_name(elem_type: int | None) -> str | None:
    import onnx
    if not elem_type:
        return None
    try:
        return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)))
    except Exception:
        return None


def _lossless(src: str | None, mid: str | None) -> bool:
    """Every value of dtype src survives a round trip through mid."""
    if src is None or mid is None or src not in _WIDTH or mid not in _WIDTH:
        return False
    if src == mid:
        return True
    if src == "bool":
        return True
    fs, fm = src.startswith("float"), mid.startswith("float")
    if fs and not fm:
        return False
    if not fs and fm:   # ints in a float mantissa
        return _WIDTH[src] <= (24 if mid == "float32" else 53) - (0 if src.startswith("u") else 1) + 1
    if src.startswith("u") and not mid.startswith("u"):
        return _WIDTH[mid] > _WIDTH[src]
    if not src.startswith("u") and mid.startswith("u"):
        return False
    return _WIDTH[mid] >= _WIDTH[src]


def cast_chain(model) -> int:
    G, count = _G(model), 0
    for n in G.g.node:
        if n.op_type != "Cast":
            continue
        to = next((a.i for a in n.attribute if a.name == "to"), None)
        x = n.input[0]
        if to is not None and G.dtype(x) == to and G.replace_uses(n.output[0], x):
            count += 1
            continue
        p = G.producer.get(x)
        if p is None or p.op_type != "Cast":
            continue
        src, mid = _np_name(G.dtype(p.input[0])), _np_name(G.dtype(x))
        if _lossless(src, mid):
            n.input[0] = p.input[0]
            count += 1
    return count


def _const_name(G: _G, base: str, value: np.ndarray) -> str:
    from onnx import numpy_helper
    name = base
    while name in G.inits or name in G.producer:
        name += "_"
    t = numpy_helper.from_array(np.asarray(value), name)
    G.g.initializer.append(t)
    G.inits[name] = t
    return name


def _shape(G: _G, name: str) -> tuple[int, ...] | None:
    for vi in list(G.g.value_info) + list(G.g.input) + list(G.g.output):
        if vi.name == name and vi.type.tensor_type.HasField("shape"):
            dims = vi.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                return tuple(d.dim_value for d in dims)
    t = G.inits.get(name)
    return tuple(t.dims) if t is not None else None


def _splice(G: _G, old, new_nodes: list) -> None:
    """Replace node `old` (found by its outputs: earlier splices copy the node messages) by
    `new_nodes` at its position."""
    nodes = list(G.g.node)
    k = next(i for i, n in enumerate(nodes) if list(n.output) == list(old.output) and n.op_type == old.op_type)
    del G.g.node[:]
    G.g.node.extend(nodes[:k] + new_nodes + nodes[k + 1:])


def nan_inf_tests(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type in ("IsNaN", "IsInf")]:
        x, y, base = n.input[0], n.output[0], n.name or n.output[0]
        dt = _np_name(G.dtype(x)) or "float32"
        if n.op_type == "IsNaN":
            new = [onnx.helper.make_node("Equal", [x, x], [f"{base}/eq"], name=f"{base}/Equal"),
                   onnx.helper.make_node("Not", [f"{base}/eq"], [y], name=f"{base}/Not")]
        else:
            pos = next((a.i for a in n.attribute if a.name == "detect_positive"), 1)
            neg = next((a.i for a in n.attribute if a.name == "detect_negative"), 1)
            inf = _const_name(G, f"{base}/inf", np.array(np.inf, dtype=dt))
            if pos and neg:
                new = [onnx.helper.make_node("Abs", [x], [f"{base}/abs"], name=f"{base}/Abs"),
                       onnx.helper.make_node("Equal", [f"{base}/abs", inf], [y], name=f"{base}/Equal")]
            elif pos or neg:
                ref = inf if pos else _const_name(G, f"{base}/ninf", np.array(-np.inf, dtype=dt))
                new = [onnx.helper.make_node("Equal", [x, ref], [y], name=f"{base}/Equal")]
            else:
                new = [onnx.helper.make_node("Equal", [x, x], [f"{base}/eq"], name=f"{base}/Equal"),
                       onnx.helper.make_node("And", [f"{base}/eq", f"{base}/eq"], [f"{base}/t"], name=f"{base}/And"),
                       onnx.helper.make_node("Xor", [f"{base}/t", f"{base}/eq"], [y], name=f"{base}/Xor")]
        _splice(G, n, new)
        count += 1
    return count


def trilu_mask(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "Trilu"]:
        shape = _shape(G, n.input[0])
        kname = n.input[1] if len(n.input) > 1 and n.input[1] else ""
        k = G.const(kname) if kname else np.array(0)
        if shape is None or len(shape) < 2 or k is None:
            continue
        upper = next((a.i for a in n.attribute if a.name == "upper"), 1)
        rows, cols = shape[-2:]
        band = np.triu(np.ones((rows, cols), bool), int(k)) if upper else np.tril(np.ones((rows, cols), bool), int(k))
        base = n.name or n.output[0]
        mask = _const_name(G, f"{base}/mask", band)
        zero = _const_name(G, f"{base}/zero", np.zeros((), dtype=_np_name(G.dtype(n.input[0])) or "float32"))
        _splice(G, n, [onnx.helper.make_node("Where", [mask, n.input[0], zero], [n.output[0]], name=f"{base}/Where")])
        count += 1
    return count


def _resize_matrix(node, rank: int, axis: int, n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    """(n_out, n_in): Resize (same attributes, onnxruntime) of the n_in identity basis along `axis`."""
    import onnx
    from onnx import TensorProto, helper

    from edgeformer.export.onnx_check import session
    shape_in = [1] * rank
    shape_in[0], shape_in[axis] = n_in, n_in
    basis = np.zeros(shape_in, np.float32)
    for i in range(n_in):
        basis[(i,) + (0,) * (axis - 1) + (i,) + (0,) * (rank - axis - 1)] = 1.0
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs.pop("axes", None)
    inits = []
    if scale is not None:
        sc = np.ones(rank, np.float32)
        sc[axis] = scale
        inits.append(helper.make_tensor("scales", TensorProto.FLOAT, [rank], sc))
        ins = ["x", "", "scales"]
    else:
        sz = np.array(shape_in, np.int64)
        sz[axis] = n_out
        inits.append(helper.make_tensor("sizes", TensorProto.INT64, [rank], sz))
        ins = ["x", "", "", "sizes"]
    g = helper.make_graph([helper.make_node("Resize", ins, ["y"], **attrs)], "r",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape_in)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    (y,) = session(m.SerializeToString()).run(None, {"x": basis})
    y = np.moveaxis(y.reshape(n_in, *y.shape[1:]), axis, 1).reshape(n_in, n_out)
    del onnx
    return y.T.copy()   # row o: weights of the n_in inputs for output o


def resize_matmul(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "Resize"]:
        mode = next((onnx.helper.get_attribute_value(a) for a in n.attribute
                     if a.name == "coordinate_transformation_mode"), b"half_pixel")
        if mode in (b"tf_crop_and_resize", "tf_crop_and_resize") or any(a.name == "axes" for a in n.attribute):
            continue
        xin, shp_in, shp_out = n.input[0], _shape(G, n.input[0]), _shape(G, n.output[0])
        if shp_in is None or shp_out is None or len(shp_in) != len(shp_out) or len(shp_in) < 2:
            continue
        rank = len(shp_in)
        scales = G.const(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if scales is not None and scales.size == 0:
            scales = None
        moved = [a for a in range(rank) if shp_in[a] != shp_out[a] or (scales is not None and scales[a] != 1)]
        if not moved or any(a < rank - 2 for a in moved) or (rank - 2 in moved and rank < 3):
            continue
        try:
            mats = {a: _resize_matrix(n, rank, a, shp_in[a], shp_out[a],
                                      None if scales is None else float(scales[a])) for a in moved}
        except Exception:
            continue
        base, cur, new = n.name or n.output[0], xin, []
        for a in sorted(moved):
            last = a == max(moved)
            out = n.output[0] if last else f"{base}/rows"
            if a == rank - 2:   # rows: R (H', H) @ X
                r = _const_name(G, f"{base}/R{a}", mats[a].astype(np.float32))
                new.append(onnx.helper.make_node("MatMul", [r, cur], [out], name=f"{base}/MatMul_{a}"))
            else:               # columns: X @ R^T (W, W')
                r = _const_name(G, f"{base}/R{a}", mats[a].T.astype(np.float32).copy())
                new.append(onnx.helper.make_node("MatMul", [cur, r], [out], name=f"{base}/MatMul_{a}"))
            cur = out
        _splice(G, n, new)
        count += 1
    return count


def gathernd_const(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "GatherND"]:
        idx = G.const(n.input[1])
        shape = _shape(G, n.input[0])
        batch_dims = next((a.i for a in n.attribute if a.name == "batch_dims"), 0)
        if idx is None or shape is None or batch_dims or idx.ndim < 1 or idx.shape[-1] > len(shape):
            continue
        k = idx.shape[-1]
        lead = shape[:k]
        norm = np.where(idx < 0, idx + np.array(lead), idx).astype(np.int64)
        if (norm < 0).any() or (norm >= np.array(lead)).any():
            continue
        flat = np.ravel_multi_index(tuple(np.moveaxis(norm, -1, 0)), lead) if k else np.zeros(idx.shape[:-1], np.int64)
        base = n.name or n.output[0]
        view = _const_name(G, f"{base}/view", np.array([int(np.prod(lead)), *shape[k:]], np.int64))
        ind = _const_name(G, f"{base}/flat", np.asarray(flat, np.int64))
        _splice(G, n, [onnx.helper.make_node("Reshape", [n.input[0], view], [f"{base}/flat_x"], name=f"{base}/Reshape"),
                       onnx.helper.make_node("Gather", [f"{base}/flat_x", ind], [n.output[0]], name=f"{base}/Gather",
                                             axis=0)])
        count += 1
    return count


def gather_elements_1d(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "GatherElements"]:
        shape = _shape(G, n.input[0])
        if shape is None:
            continue
        axis = next((a.i for a in n.attribute if a.name == "axis"), 0) % len(shape)
        base = n.name or n.output[0]
        idx = G.const(n.input[1])
        if all(d == 1 for k, d in enumerate(shape) if k != axis):
            flat = _const_name(G, f"{base}/len", np.array([shape[axis]], np.int64))
            ind = n.input[1]
        elif idx is not None and idx.ndim == len(shape):
            # constant index (DeBERTa's relative-position gathers): out[i] = data[i with i[axis] =
            # idx[i]], a Gather of flat positions. Leading axes the index is the same along (an
            # expand over batch x heads) stay a Gather axis, so the index is stored once for them.
            idx = np.where(idx < 0, idx + shape[axis], idx)
            if (idx < 0).any() or (idx >= shape[axis]).any() or any(i > d for i, d in zip(idx.shape, shape)):
                continue
            lead = 0
            while (lead < axis and idx.shape[lead] == shape[lead]
                   and (idx == idx[(slice(None),) * lead + (slice(0, 1),)]).all()):
                lead += 1
            sub = idx[(0,) * lead]
            coords = list(np.indices(sub.shape))
            coords[axis - lead] = sub
            rest = shape[lead:]
            positions = np.ravel_multi_index(tuple(coords), rest).astype(np.int64)
            view = ([int(np.prod(shape[:lead]))] if lead else []) + [int(np.prod(rest))]
            flat = _const_name(G, f"{base}/view", np.array(view, np.int64))
            ind = _const_name(G, f"{base}/positions", positions)
            gathered = n.output[0] if lead <= 1 else f"{base}/gathered"
            new = [onnx.helper.make_node("Reshape", [n.input[0], flat], [f"{base}/flat"], name=f"{base}/Reshape"),
                   onnx.helper.make_node("Gather", [f"{base}/flat", ind], [gathered], name=f"{base}/Gather",
                                         axis=1 if lead else 0)]
            if lead > 1:
                out_shape = _const_name(G, f"{base}/out_shape", np.array(idx.shape, np.int64))
                new.append(onnx.helper.make_node("Reshape", [gathered, out_shape], [n.output[0]],
                                                 name=f"{base}/Reshape_out"))
            _splice(G, n, new)
            count += 1
            continue
        else:
            continue
        _splice(G, n, [onnx.helper.make_node("Reshape", [n.input[0], flat], [f"{base}/flat"], name=f"{base}/Reshape"),
                       onnx.helper.make_node("Gather", [f"{base}/flat", ind], [n.output[0]], name=f"{base}/Gather",
                                             axis=0)])
        count += 1
    return count


_INT_ARITH = {"Add", "Sub", "Mul", "Neg", "Abs", "Max", "Min", "CumSum", "Equal", "Less", "Greater",
              "LessOrEqual", "GreaterOrEqual"}
_COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}


def int_arith_as_float(model) -> int:
    import onnx
    from onnx import TensorProto
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type in _INT_ARITH]:
        data_ins = n.input[:1] if n.op_type == "CumSum" else list(n.input)
        dts = [_np_name(G.dtype(i)) for i in data_ins]
        if not dts or any(d is None for d in dts) or not all(d.startswith(("int", "uint")) for d in dts):
            continue
        if all(i in G.inits for i in data_ins):
            continue
        base = n.name or n.output[0]
        new, ins = [], list(n.input)
        for k, x in enumerate(data_ins):
            c = G.const(x)
            if c is not None:
                ins[k] = _const_name(G, f"{base}/f{k}", c.astype(np.float32))
            else:
                ins[k] = f"{base}/f{k}"
                new.append(onnx.helper.make_node("Cast", [x], [ins[k]], name=f"{base}/Cast_in{k}", to=TensorProto.FLOAT))
        out = n.output[0]
        if n.op_type in _COMPARE:
            new.append(onnx.helper.make_node(n.op_type, ins, [out], name=f"{base}/f32", domain=n.domain))
        else:
            to = G.dtype(out) or G.dtype(data_ins[0])
            new.append(onnx.helper.make_node(n.op_type, ins, [f"{base}/fy"], name=f"{base}/f32", domain=n.domain))
            new[-1].attribute.extend(n.attribute)
            new.append(onnx.helper.make_node("Cast", [f"{base}/fy"], [out], name=f"{base}/Cast_out", to=to))
        _splice(G, n, new)
        count += 1
    return count


def cumsum_matmul(model) -> int:
    import onnx
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "CumSum"]:
        shape, axis = _shape(G, n.input[0]), G.const(n.input[1])
        if shape is None or axis is None or _np_name(G.dtype(n.input[0])) != "float32":
            continue
        if int(axis.reshape(-1)[0]) % len(shape) != len(shape) - 1:
            continue
        t = shape[-1]
        exclusive = next((a.i for a in n.attribute if a.name == "exclusive"), 0)
        reverse = next((a.i for a in n.attribute if a.name == "reverse"), 0)
        i, j = np.indices((t, t))          # y[j] = sum_i x[i] * M[i, j]
        m = (i >= j) if reverse else (i <= j)
        if exclusive:
            m &= i != j
        base = n.name or n.output[0]
        mat = _const_name(G, f"{base}/tri", m.astype(np.float32))
        _splice(G, n, [onnx.helper.make_node("MatMul", [n.input[0], mat], [n.output[0]], name=f"{base}/MatMul")])
        count += 1
    return count


def _view_rules():
    from edgeformer.export.foreign_views import packed_views, unit_transposes
    return (packed_views, unit_transposes)


def _op_rules():
    """Whole ops without a kernel rewritten into ops with one (their own modules)."""
    from edgeformer.export.foreign_norm import instance_norm_layernorm
    from edgeformer.export.foreign_convt import conv_transpose_conv
    from edgeformer.export.foreign_pad import pad_modes
    from edgeformer.export.foreign_reduce import arg_reduce
    from edgeformer.export.foreign_rnn import rnn_unroll
    return (instance_norm_layernorm, rnn_unroll, arg_reduce, pad_modes, conv_transpose_conv)


# packed_views and unit_transposes (export/foreign_views.py) last: einsum_matmul's Transposes
# and the folded shape arithmetic are in place by then.
RULES = (softmax_nan_guard, einsum_matmul, cast_chain, nan_inf_tests, trilu_mask, resize_matmul, gathernd_const,
         gather_elements_1d, int_arith_as_float, cumsum_matmul, *_op_rules(), *_view_rules())


def _reinfer(model):
    import onnx
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        return model


def rewrite(model):
    """Apply every rule once; returns (model, {rule: places rewritten}) for export.json."""
    import onnx
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        pass
    counts = {}
    for rule in RULES:
        k = rule(model)
        if k:
            counts[rule.__name__] = k
            model = _reinfer(model)   # the next rule reads the shapes and dtypes of what this one made
    _drop_dead(model)
    return model, counts
