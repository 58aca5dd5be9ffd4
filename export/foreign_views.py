"""Attention as the memory passes read it, however the exporter spelled the packed projection.

`nn.MultiheadAttention`, `nn.TransformerEncoderLayer` (and `_native_multi_head_attention`
once the dynamo exporter decomposes it), timm-style `qkv.reshape(B, T, 3, H, D).permute(...)`
and `qkv.chunk(3, -1)` all compute one projection to 3E columns and then take q, k and v out of
it through a chain of views: Reshape/Unsqueeze/Transpose/Squeeze and a Gather of a constant
index (or a Split, or a Slice). The memory passes (split_matmul, then one row loop per
projection) recognise a projection read only through Slices of its last axis, so each view
is rewritten here into that canonical form:

    X (projection output) -> Slice(last axis, s:e) -> Reshape -> Transpose -> [Reshape]

The rewrite is found, and proven exact, on index arrays: the chain is applied to
arange(X.size) with numpy, and the view's element indices must be one last-axis block of X
laid out as a transpose of a reshape of it. A view that is anything else is left alone.

`unit_transposes`: a Transpose that moves only size-1 axes (MHA's (B, T, E) -> (T, B, E) for
a batch of 1) copies nothing: it becomes a Reshape, which the planner aliases.

Each rule is `(model) -> int` like the rules of export/foreign_rewrite.py, which runs them.
"""
from __future__ import annotations

import math

import numpy as np

# Ops that only re-view their first input in C order (their output shape says how), and Transpose.
RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")
PROJECTIONS = ("MatMul", "Gemm")
MAX_CHAIN = 8


def _attr(node, name: str, default=None):
    import onnx
    a = next((a for a in node.attribute if a.name == name), None)
    return default if a is None else onnx.helper.get_attribute_value(a)


def _is_projection(G, x: str) -> bool:
    """x = X @ W (+ b) with a constant W (and b): the packed in-projection's output."""
    p = G.producer.get(x)
    if p is not None and p.op_type == "Add":
        consts = [i for i in p.input if G.const(i) is not None]
        acts = [i for i in p.input if G.const(i) is None]
        if len(consts) != 1 or len(acts) != 1:
            return False
        p = G.producer.get(acts[0])
    return (p is not None and p.op_type in PROJECTIONS and len(p.input) >= 2
            and G.const(p.input[1]) is not None)


def _chain(G, y: str, shape_of) -> tuple[str, list] | None:
    """(X, [layout nodes from X to y]): y's producers walked up while they only re-view."""
    chain = []
    while len(chain) < MAX_CHAIN:
        p = G.producer.get(y)
        if p is None or (p.op_type not in RESHAPES and p.op_type != "Transpose"):
            break
        if any(G.const(i) is None for i in p.input[1:] if i) or shape_of(p.output[0]) is None:
            return None
        chain.insert(0, p)
        y = p.input[0]
    return y, chain


def _apply(idx: np.ndarray, chain, shape_of) -> np.ndarray:
    for n in chain:
        if n.op_type == "Transpose":
            idx = idx.transpose(_attr(n, "perm", list(range(idx.ndim))[::-1]))
        else:
            idx = idx.reshape(shape_of(n.output[0]))
    return idx


def _views(G, node, y_idx: np.ndarray) -> list[np.ndarray] | None:
    """Index arrays of the view node's outputs, or None when it is not a constant view."""
    if node.op_type == "Gather":
        i = G.const(node.input[1])
        return None if i is None else [np.take(y_idx, i.astype(np.int64), axis=_attr(node, "axis", 0))]
    if node.op_type == "Split":
        axis = _attr(node, "axis", 0) % y_idx.ndim
        sizes = G.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
        n_out = len(node.output)
        if sizes is None:
            sizes = [-(-y_idx.shape[axis] // n_out)] * n_out
            sizes[-1] = y_idx.shape[axis] - sum(sizes[:-1])
        cuts = np.cumsum([int(s) for s in sizes])[:-1]
        return list(np.split(y_idx, cuts, axis=axis))
    if node.op_type == "Slice":
        ins = list(node.input) + [""] * 5
        vals = [G.const(i) if i else None for i in ins[1:5]]
        starts, ends = vals[0], vals[1]
        if starts is None or ends is None or any(i and v is None for i, v in zip(ins[3:5], vals[2:])):
            return None
        axes = vals[2] if vals[2] is not None else range(len(starts))
        steps = vals[3] if vals[3] is not None else [1] * len(starts)
        sl = [slice(None)] * y_idx.ndim
        for s, e, a, k in zip(starts, ends, axes, steps):
            sl[int(a) % y_idx.ndim] = slice(int(s), int(e), int(k))
        return [y_idx[tuple(sl)]]
    return None


def _canonical(x_shape: tuple[int, ...], out: np.ndarray):
    """(s, e, dims, perm) with out == Slice(X, -1, s:e).reshape(dims).transpose(perm), or None.
    perm is None when the axes of size > 1 keep their order (a Reshape alone does it)."""
    if out.size == 0:
        return None
    cols = np.unravel_index(out.reshape(-1), x_shape)[-1]
    s, e = int(cols.min()), int(cols.max()) + 1
    base = np.arange(math.prod(x_shape)).reshape(x_shape)[..., s:e]
    if base.size != out.size or (s == 0 and e == x_shape[-1]):
        return None   # not one block of columns, or all of them (no projection to split)
    where = np.full(math.prod(x_shape), -1, np.int64)
    where[base.reshape(-1)] = np.arange(base.size)
    pos = where[out]
    big = [a for a, d in enumerate(out.shape) if d > 1]
    if (pos < 0).any() or not big:
        return None
    sq = pos.reshape([out.shape[a] for a in big])
    strides = [int(sq[tuple(1 if k == j else 0 for k in range(sq.ndim))] - sq.flat[0]) for j in range(sq.ndim)]
    order = sorted(range(sq.ndim), key=lambda j: -strides[j])   # C order of the source
    back = [order.index(j) for j in range(sq.ndim)]
    if sq.flat[0] != 0 or not np.array_equal(sq, np.arange(base.size).reshape([sq.shape[j] for j in order]).transpose(back)):
        return None
    if order == sorted(order):
        return s, e, list(out.shape), None
    # source layout: the size-1 axes first, then the others in source order; perm puts each
    # output axis back where it is
    units = [a for a in range(out.ndim) if a not in big]
    dims = [1] * len(units) + [sq.shape[j] for j in order]
    perm = [units.index(a) if a in units else len(units) + order.index(big.index(a)) for a in range(out.ndim)]
    return s, e, dims, perm


def _emit(G, x: str, out: str, shape: tuple[int, ...], plan, base: str) -> list:
    import onnx
    from edgeformer.export.foreign_rewrite import _const_name
    from edgeformer.export.foreign_rewrite import _shape as shape_of
    s, e, dims, perm = plan
    i64 = lambda v: np.asarray(v, np.int64)   # noqa: E731
    steps = [("Slice", [_const_name(G, f"{base}/starts", i64([s])), _const_name(G, f"{base}/ends", i64([e])),
                        _const_name(G, f"{base}/axes", i64([-1]))], {})]
    sliced = list(shape_of(G, x)[:-1]) + [e - s]
    if perm is not None:
        steps += [("Reshape", [_const_name(G, f"{base}/dims", i64(dims))], {}), ("Transpose", [], {"perm": perm})]
    elif sliced != list(shape):
        steps.append(("Reshape", [_const_name(G, f"{base}/shape", i64(shape))], {}))
    nodes, cur = [], x
    for k, (op, extra, attrs) in enumerate(steps):
        y = out if k == len(steps) - 1 else f"{base}/{op.lower()}{k}"
        nodes.append(onnx.helper.make_node(op, [cur, *extra], [y], name=f"{base}/{op}{k}", **attrs))
        cur = y
    return nodes


def packed_views(model) -> int:
    """Each view of a packed projection (Gather/Split/Slice after re-views) -> Slice of its
    last axis, then Reshape/Transpose."""
    from edgeformer.export.foreign_rewrite import _G, _shape, _splice
    G, count = _G(model), 0
    shape_of = lambda t: _shape(G, t)   # noqa: E731
    for n in [n for n in G.g.node if n.op_type in ("Gather", "Split", "Slice")]:
        found = _chain(G, n.input[0], shape_of)
        if found is None:
            continue
        x, chain = found
        if (not chain and n.op_type != "Split") or not _is_projection(G, x):
            continue   # a Slice/Gather straight on X is already canonical (or not a head split)
        x_shape = shape_of(x)
        outs = [o for o in n.output]
        out_shapes = [shape_of(o) for o in outs]
        if x_shape is None or any(s is None for s in out_shapes) or not all(outs):
            continue
        idx = np.arange(math.prod(x_shape)).reshape(x_shape)
        views = _views(G, n, _apply(idx, chain, shape_of))
        if views is None or [tuple(v.shape) for v in views] != [tuple(s) for s in out_shapes]:
            continue
        plans = [_canonical(x_shape, v) for v in views]
        if any(p is None for p in plans):
            continue
        new = []
        for k, (o, shp, p) in enumerate(zip(outs, out_shapes, plans)):
            new += _emit(G, x, o, shp, p, f"{n.name or n.output[0]}/view{k}")
        _splice(G, n, new)
        count += 1
    return count


def unit_transposes(model) -> int:
    """Transpose that keeps every axis of size > 1 in order -> Reshape (no data moves)."""
    import onnx
    from edgeformer.export.foreign_rewrite import _G, _const_name, _shape, _splice
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "Transpose"]:
        shp, out = _shape(G, n.input[0]), _shape(G, n.output[0])
        if shp is None or out is None or G.const(n.input[0]) is not None:
            continue
        perm = _attr(n, "perm", list(range(len(shp)))[::-1])
        big = [a for a in perm if shp[a] > 1]
        if big != sorted(big):
            continue
        base = n.name or n.output[0]
        target = _const_name(G, f"{base}/as_reshape", np.asarray(out, np.int64))
        _splice(G, n, [onnx.helper.make_node("Reshape", [n.input[0], target], [n.output[0]], name=f"{base}/Reshape")])
        count += 1
    return count
