"""Row-axis rules: which ops compute output row r from input row r only (row-separable).

A rule is `rule(graph, node, known) -> (in_axes, out_axes) | None`. `known[i]` is the row
axis input i must be sliced at (it is produced inside the row loop being grown), or None
when input i comes from outside (the rule decides: an axis = read row r of it, None = read it
whole, loop-invariant). The rule returns the row axis of every input (None = invariant) and
of every output, or None when the op mixes rows along that axis. The caller checks that
every row-sliced dim has the loop's row count.

New ops join row loops by registering a rule here (`@rule("ef.MyOp")`), not by editing the
row-loop pass.
"""
from __future__ import annotations

import math
from typing import Callable

from edgeformer.export.ir import Graph, Node

Axes = list[int | None]
RowRule = Callable[[Graph, Node, Axes], tuple[Axes, Axes] | None]
ROW_RULES: dict[str, RowRule] = {}

from edgeformer.export.ir import RESHAPE_LIKE  # noqa: E402  (one definition)
ELEMENTWISE = (
    "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Mod", "Greater", "Less", "Equal",
    "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Not", "Sum", "Mean", "Max", "Min",
    "Where", "Cast", "CastLike", "Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Neg",
    "Abs", "Reciprocal", "LeakyRelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Elu",
    "Selu", "Celu", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
    "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Sign", "Mish", "ThresholdedRelu", "Swish",
    "Shrink", "Gelu", "Clip",
    # int8 binary ops of the int8 lowering passes (per-tensor parameters only).
    "ef.QAdd", "ef.QMul")


def rule(*ops: str):
    def deco(fn: RowRule) -> RowRule:
        for op in ops:
            ROW_RULES[op] = fn
        return fn
    return deco


def _shape(g: Graph, name: str) -> tuple[int, ...]:
    return tuple(g.tensors[name].shape)


def _first(known: Axes) -> tuple[int, int] | None:
    """(input index, axis) of the first row-sliced input."""
    return next(((i, a) for i, a in enumerate(known) if a is not None), None)


def _invariant_rest(node: Node, known: Axes, idx: int, ax: int, n_out: int):
    """Input idx is row-sliced at ax, every other input must be whole; outputs keep ax."""
    if any(a is not None for i, a in enumerate(known) if i != idx):
        return None
    ins: Axes = [None] * len(node.inputs)
    ins[idx] = ax
    return ins, [ax] * n_out


@rule(*(op for op in ELEMENTWISE if op != "CastLike"))   # CastLike's input 1 is no operand: castlike
def elementwise(g: Graph, node: Node, known: Axes):
    """Numpy broadcasting: an input with extent > 1 at the (right-aligned) row axis is sliced."""
    f = _first(known)
    if f is None:
        return None
    out = _shape(g, node.outputs[0])
    ax = f[1] + len(out) - len(_shape(g, node.inputs[f[0]]))
    if not 0 <= ax < len(out):
        return None   # an input of higher rank than the output: not a broadcast operand
    ins: Axes = []
    for i, name in enumerate(node.inputs):
        if not name:
            ins.append(None)
            continue
        s = _shape(g, name)
        ai = ax - (len(out) - len(s))
        sliced = ai >= 0 and s[ai] != 1
        if (known[i] is not None and known[i] != ai) or (known[i] is not None and not sliced):
            return None
        ins.append(ai if sliced else None)
    return ins, [ax] * len(node.outputs)


@rule("CastLike")
def castlike(g: Graph, node: Node, known: Axes):
    """y = x as input 1's type: only x's data reaches y (same shape); the type donor is no
    operand. Rows of x are rows of y; the donor is read as it comes (by rows when the loop
    makes it, else whole). Rows of the donor alone give y none: it stays outside the loop."""
    ax = known[0]
    if ax is None:
        return None
    return [ax, known[1]], [ax]


@rule("QuantizeLinear", "DequantizeLinear")
def qdq(g: Graph, node: Node, known: Axes):
    if known[0] is None:
        return None
    ax = known[0]
    x = _shape(g, node.inputs[0])
    if g.tensors[node.inputs[1]].numel > 1 and node.attrs.get("axis", 1) % len(x) == ax:
        return None   # per-axis parameters along the row axis
    return _invariant_rest(node, known, 0, ax, 1)


@rule("ef.LUT")
def lut(g: Graph, node: Node, known: Axes):
    """y = table[x]: the table is read whole."""
    return None if known[0] is None else _invariant_rest(node, known, 0, known[0], 1)


@rule("LayerNormalization", "ef.QLayerNorm")
def layernorm(g: Graph, node: Node, known: Axes):
    if known[0] is None or node.attrs.get("pool_rows"):   # pooling sums over the rows
        return None
    rank = len(_shape(g, node.inputs[0]))
    if known[0] >= node.attrs.get("axis", -1) % rank:   # rows must not be normalised together
        return None
    return _invariant_rest(node, known, 0, known[0], len(node.outputs))


@rule("ef.QSoftmax")
def qsoftmax(g: Graph, node: Node, known: Axes):
    """Softmax over blocks of attrs["row"] trailing elements: rows must lie outside them."""
    ax = known[0]
    if ax is None or math.prod(_shape(g, node.inputs[0])[ax + 1:]) % node.attrs["row"]:
        return None
    return _invariant_rest(node, known, 0, ax, 1)


@rule("Softmax", "LogSoftmax")
def softmax(g: Graph, node: Node, known: Axes):
    if known[0] is None:
        return None
    rank = len(_shape(g, node.inputs[0]))
    old = g.meta.get("opset", 13) < 13
    axis = node.attrs.get("axis", 1 if old else -1) % rank
    if known[0] == axis or (old and known[0] > axis):   # old opsets flatten [axis:]
        return None
    return _invariant_rest(node, known, 0, known[0], 1)


def _matmul(g: Graph, node: Node, known: Axes):
    """A [.., M, K] @ B [.., K, N]: rows in A's batch or M dims; B whole (or sliced along the
    same broadcast batch dim). Rows in B's N dim would make the next op see whole columns."""
    a, b = node.inputs[:2]
    sa, sb = _shape(g, a), _shape(g, b)
    ax = known[0]
    if ax is None or len(sa) < 2 or ax >= len(sa) - 1:
        return None
    out = _shape(g, node.outputs[0])
    oax = ax + len(out) - len(sa)
    bax = None
    if ax < len(sa) - 2:   # a batch dim: B follows broadcasting
        bi = oax - (len(out) - len(sb))
        if bi >= 0 and len(sb) > 2 and bi < len(sb) - 2 and sb[bi] != 1:
            bax = bi
    if known[1] is not None and known[1] != bax:
        return None
    ins: Axes = [ax, bax] + [None] * (len(node.inputs) - 2)
    if any(k is not None for k in known[2:]):
        return None
    return ins, [oax]


@rule("MatMul")
def matmul(g: Graph, node: Node, known: Axes):
    return _matmul(g, node, known)


@rule("ef.QMatMulAA")
def qmatmul_aa(g: Graph, node: Node, known: Axes):
    return _matmul(g, node, known)


@rule("ef.QMatMul", "ef.QGemm")
def qmatmul(g: Graph, node: Node, known: Axes):
    """Constant weights (N, K): x (.., K) row-sliced anywhere but K. Activation x activation
    (the int8 attention matmul) follows MatMul."""
    w = node.inputs[1]
    if not g.tensors[w].is_const:
        return _matmul(g, node, known)
    ax = known[0]
    if ax is None or ax >= len(_shape(g, node.inputs[0])) - 1:
        return None
    return _invariant_rest(node, known, 0, ax, 1)


@rule("Gemm")
def gemm(g: Graph, node: Node, known: Axes):
    if known[0] != 0 or node.attrs.get("transA", 0) or any(k is not None for k in known[1:2]):
        return None
    ins: Axes = [0, None]
    if len(node.inputs) > 2:
        c = node.inputs[2]
        sc = _shape(g, c) if c else ()
        sliced = len(sc) == 2 and sc[0] != 1
        if known[2] is not None and not sliced:
            return None
        ins.append(0 if sliced else None)
    return ins, [0]


@rule("Transpose")
def transpose(g: Graph, node: Node, known: Axes):
    ax = known[0]
    if ax is None:
        return None
    rank = len(_shape(g, node.inputs[0]))
    perm = list(node.attrs.get("perm", range(rank - 1, -1, -1)))
    return [ax], [perm.index(ax)]


@rule(*RESHAPE_LIKE)
def reshape(g: Graph, node: Node, known: Axes):
    """The row axis must survive as one whole dim with the same elements before it."""
    ax = known[0]
    if ax is None or any(k is not None for k in known[1:]):
        return None
    si, so = _shape(g, node.inputs[0]), _shape(g, node.outputs[0])
    before = math.prod(si[:ax])
    for b in range(len(so)):
        if math.prod(so[:b]) == before and so[b] == si[ax]:
            return [ax] + [None] * (len(node.inputs) - 1), [b] + [None] * (len(node.outputs) - 1)
        if math.prod(so[:b + 1]) > before * si[ax]:
            break
    return None


def const_list(g: Graph, name: str) -> list[int] | None:
    if not name or not g.tensors[name].is_const:
        return None
    return [int(v) for v in g.tensors[name].data.reshape(-1)]


def slice_params(g: Graph, node: Node) -> list[tuple[int, int, int, int]] | None:
    """[(axis, start, end, step)] with constant, normalised values; None if not constant."""
    rank = len(_shape(g, node.inputs[0]))
    if len(node.inputs) > 1:
        ins = list(node.inputs) + [""] * 5
        starts, ends = const_list(g, ins[1]), const_list(g, ins[2])
        axes = const_list(g, ins[3]) if ins[3] else list(range(len(starts or [])))
        steps = const_list(g, ins[4]) if ins[4] else [1] * len(starts or [])
        if None in (starts, ends, axes, steps):
            return None
    else:
        starts, ends = node.attrs["starts"], node.attrs["ends"]
        axes = node.attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    shape = _shape(g, node.inputs[0])
    out = []
    for s, e, a, k in zip(starts, ends, axes, steps):
        a %= rank
        r = range(*slice(s, e, k).indices(shape[a]))
        out.append((a, r.start, r.stop, r.step))
    return out


@rule("Slice")
def slice_rule(g: Graph, node: Node, known: Axes):
    ax = known[0]
    params = slice_params(g, node)
    if ax is None or params is None or any(a == ax for a, *_ in params):
        return None
    return _invariant_rest(node, known, 0, ax, 1)


@rule("Split")
def split(g: Graph, node: Node, known: Axes):
    ax = known[0]
    rank = len(_shape(g, node.inputs[0]))
    if ax is None or node.attrs.get("axis", 0) % rank == ax:
        return None
    return _invariant_rest(node, known, 0, ax, len(node.outputs))


@rule("Concat")
def concat(g: Graph, node: Node, known: Axes):
    f = _first(known)
    rank = len(_shape(g, node.outputs[0]))
    if f is None or node.attrs["axis"] % rank == f[1] or any(k not in (None, f[1]) for k in known):
        return None
    return [f[1]] * len(node.inputs), [f[1]]


@rule("Gather")
def gather(g: Graph, node: Node, known: Axes):
    ax = known[0]
    data_rank = len(_shape(g, node.inputs[0]))
    axis = node.attrs.get("axis", 0) % data_rank
    if ax is None or ax == axis or known[1] is not None:
        return None
    idx_rank = len(_shape(g, node.inputs[1]))
    return [ax, None], [ax if ax < axis else ax + idx_rank - 1]


@rule("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
      "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")
def reduce(g: Graph, node: Node, known: Axes):
    ax = known[0]
    rank = len(_shape(g, node.inputs[0]))
    axes = (const_list(g, node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1]
            else node.attrs.get("axes"))
    if ax is None or not axes or any(k is not None for k in known[1:]):
        return None   # no axes = reduce everything, rows included
    axes = [a % rank for a in axes]
    if ax in axes:
        return None
    keep = node.attrs.get("keepdims", 1)
    return [ax] + [None] * (len(node.inputs) - 1), [ax if keep else ax - sum(a < ax for a in axes)]
