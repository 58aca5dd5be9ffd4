"""Elementwise ops: broadcasting binary/compare/logical, unary maps, variadic, Where, Cast."""
from __future__ import annotations

import numpy as np

from edgeformer.export.emit.ctx import (DT_ENUM, MAX_DIMS, EmitCtx, broadcast_strides,
                                        squeeze_dims)
from edgeformer.export.emit.registry import register
from edgeformer.export.ir import Node

BINARY = {"Add": "EF_BIN_ADD", "Sub": "EF_BIN_SUB", "Mul": "EF_BIN_MUL", "Div": "EF_BIN_DIV",
          "Pow": "EF_BIN_POW", "PRelu": "EF_BIN_PRELU"}
COMPARE = {"Greater": "EF_CMP_GREATER", "Less": "EF_CMP_LESS", "Equal": "EF_CMP_EQUAL",
           "GreaterOrEqual": "EF_CMP_GREATER_EQ", "LessOrEqual": "EF_CMP_LESS_EQ"}
LOGICAL = {"And": "EF_LOG_AND", "Or": "EF_LOG_OR", "Xor": "EF_LOG_XOR"}
VARIADIC = {"Sum": "EF_BIN_ADD", "Mean": "EF_BIN_ADD", "Max": "EF_BIN_MAX", "Min": "EF_BIN_MIN"}


def _require(ctx: EmitCtx, names, dtypes: tuple[str, ...]) -> None:
    for n in names:
        if n and ctx.t(n).dtype not in dtypes:
            raise ctx.reject(f"input {n} is {ctx.t(n).dtype}; this kernel takes {'/'.join(dtypes)}")


def bcast_params(ctx: EmitCtx, out: str, ins: list[str]) -> tuple[list[int], list[list[int]]]:
    oshape = ctx.shape(out)
    tables = [broadcast_strides(ctx.shape(i), oshape) for i in ins]
    shape, tables = squeeze_dims(oshape, *tables)
    if len(shape) > MAX_DIMS:
        raise ctx.reject(f"broadcast needs {len(shape)} dims; the kernels take {MAX_DIMS}")
    return shape, tables


def binary_call(ctx: EmitCtx, kernel: str, op: str, a: str, b: str, y: str) -> list[str]:
    shape, (sa, sb) = bcast_params(ctx, y, [a, b])
    params = dict(op=op, rank=len(shape), shape=shape, a_stride=sa, b_stride=sb)
    return ctx.call(kernel, [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y, out=True)], "ef_binary_params",
                    params)


@register(*BINARY)
def emit_binary(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    a, b = node.inputs
    return binary_call(ctx, "ef_binary_f32", BINARY[node.op], a, b, node.outputs[0])


@register("Mod")
def emit_mod(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    if not node.attrs.get("fmod", 0):
        raise ctx.reject("float Mod needs fmod=1 (ONNX requires it for floats)")
    return binary_call(ctx, "ef_binary_f32", "EF_BIN_FMOD", *node.inputs, node.outputs[0])


@register(*COMPARE)
def emit_compare(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("float32",))
    return binary_call(ctx, "ef_compare_f32", COMPARE[node.op], *node.inputs, node.outputs[0])


@register(*LOGICAL)
def emit_logical(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("bool",))
    return binary_call(ctx, "ef_logical_u8", LOGICAL[node.op], *node.inputs, node.outputs[0])


@register("Not")
def emit_not(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs, ("bool",))
    x, y = node.inputs[0], node.outputs[0]
    return ctx.call("ef_not_u8", [str(ctx.t(y).numel), ctx.ptr(x), ctx.ptr(y, out=True)])


@register(*VARIADIC)
def emit_variadic(ctx: EmitCtx, node: Node) -> list[str]:
    """Folds left: y = x0 op x1, then y = y op x_i (y is dense, so reading it in place is safe)."""
    _require(ctx, node.inputs, ("float32",))
    ins, y = list(node.inputs), node.outputs[0]
    op = VARIADIC[node.op]
    if len(ins) == 1:
        code = _copy_bcast(ctx, ins[0], y)
    else:
        code = binary_call(ctx, "ef_binary_f32", op, ins[0], ins[1], y)
        for x in ins[2:]:
            shape, (sa, sb) = bcast_params(ctx, y, [y, x])
            params = dict(op=op, rank=len(shape), shape=shape, a_stride=sa, b_stride=sb)
            code += ctx.call("ef_binary_f32", [ctx.ptr(y), ctx.ptr(x), ctx.ptr(y, out=True)],
                             "ef_binary_params", params)
    if node.op == "Mean":
        p = dict(op="EF_UN_AFFINE", n=ctx.t(y).numel, alpha=1.0 / len(ins), beta=0.0)
        code += ctx.call("ef_unary_f32", [ctx.ptr(y), ctx.ptr(y, out=True)], "ef_unary_params", p)
    return code


def _copy_bcast(ctx: EmitCtx, x: str, y: str) -> list[str]:
    from edgeformer.export.emit.ops_shape import strided_copy  # noqa: PLC0415
    oshape = ctx.shape(y)
    return strided_copy(ctx, x, y, oshape, broadcast_strides(ctx.shape(x), oshape))


SELU_ALPHA, SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875

# op -> (kernel opcode, alpha, beta) where alpha/beta may be read from attributes.
UNARY = {
    "Relu": "EF_UN_RELU", "Sigmoid": "EF_UN_SIGMOID", "Tanh": "EF_UN_TANH", "Erf": "EF_UN_ERF",
    "Exp": "EF_UN_EXP", "Log": "EF_UN_LOG", "Sqrt": "EF_UN_SQRT", "Neg": "EF_UN_NEG",
    "Abs": "EF_UN_ABS", "Reciprocal": "EF_UN_RECIPROCAL", "LeakyRelu": "EF_UN_LEAKY_RELU",
    "HardSigmoid": "EF_UN_HARD_SIGMOID", "HardSwish": "EF_UN_HARD_SWISH",
    "Softplus": "EF_UN_SOFTPLUS", "Softsign": "EF_UN_SOFTSIGN", "Elu": "EF_UN_ELU",
    "Selu": "EF_UN_SELU", "Celu": "EF_UN_CELU", "Floor": "EF_UN_FLOOR", "Ceil": "EF_UN_CEIL",
    "Round": "EF_UN_ROUND", "Sin": "EF_UN_SIN", "Cos": "EF_UN_COS", "Tan": "EF_UN_TAN",
    "Asin": "EF_UN_ASIN", "Acos": "EF_UN_ACOS", "Atan": "EF_UN_ATAN", "Sinh": "EF_UN_SINH",
    "Cosh": "EF_UN_COSH", "Asinh": "EF_UN_ASINH", "Acosh": "EF_UN_ACOSH",
    "Atanh": "EF_UN_ATANH", "Sign": "EF_UN_SIGN", "Mish": "EF_UN_MISH",
    "ThresholdedRelu": "EF_UN_THRESHOLDED_RELU", "Swish": "EF_UN_SWISH",
    "Shrink": "EF_UN_SHRINK", "Gelu": "EF_UN_GELU", "Clip": "EF_UN_CLIP",
}

FAST_UNARY = ("EF_UN_ERF", "EF_UN_GELU")


def _unary_args(ctx: EmitCtx, node: Node) -> tuple[str, float, float]:
    a = node.attrs
    op = UNARY[node.op]
    if node.op == "LeakyRelu":
        return op, a.get("alpha", 0.01), 0.0
    if node.op == "HardSigmoid":
        return op, a.get("alpha", 0.2), a.get("beta", 0.5)
    if node.op in ("Elu", "Celu", "ThresholdedRelu", "Swish"):
        return op, a.get("alpha", 1.0), 0.0
    if node.op == "Selu":
        return op, a.get("alpha", SELU_ALPHA), a.get("gamma", SELU_GAMMA)
    if node.op == "Shrink":
        return op, a.get("lambd", 0.5), a.get("bias", 0.0)
    if node.op == "Gelu":
        approx = a.get("approximate", "none")
        if approx not in ("none", "tanh"):
            raise ctx.reject(f"approximate={approx!r}; supported: 'none', 'tanh'")
        return ("EF_UN_GELU_TANH" if approx == "tanh" else op), 0.0, 0.0
    if node.op == "Clip":
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.inputs) > 1 and node.inputs[1]:
            lo = float(ctx.need_const(node.inputs[1], "min").reshape(-1)[0])
        if len(node.inputs) > 2 and node.inputs[2]:
            hi = float(ctx.need_const(node.inputs[2], "max").reshape(-1)[0])
        return op, lo, hi
    return op, 0.0, 0.0


@register(*UNARY, const_inputs=(1, 2))
def emit_unary(ctx: EmitCtx, node: Node) -> list[str]:
    _require(ctx, node.inputs[:1], ("float32",))
    op, alpha, beta = _unary_args(ctx, node)
    x, y = node.inputs[0], node.outputs[0]
    params = dict(op=op, n=ctx.t(y).numel, alpha=float(alpha), beta=float(beta))
    # Erf and exact Gelu by the bounded rational approximation of ef_f32_fast.h
    kernel = "ef_unary_f32_fast" if op in FAST_UNARY else "ef_unary_f32"
    return ctx.call(kernel, [ctx.ptr(x), ctx.ptr(y, out=True)], "ef_unary_params", params)


@register("Where")
def emit_where(ctx: EmitCtx, node: Node) -> list[str]:
    c, a, b = node.inputs
    y = node.outputs[0]
    _require(ctx, [c], ("bool",))
    shape, (sc, sa, sb) = bcast_params(ctx, y, [c, a, b])
    params = dict(rank=len(shape), elem_size=ctx.t(y).nbytes // max(ctx.t(y).numel, 1),
                  shape=shape, c_stride=sc, a_stride=sa, b_stride=sb)
    return ctx.call("ef_where_any", [ctx.ptr(c), ctx.vptr(a), ctx.vptr(b), ctx.vptr(y, out=True)],
                    "ef_where_params", params)


@register("Cast", "CastLike")
def emit_cast(ctx: EmitCtx, node: Node) -> list[str]:
    x, y = node.inputs[0], node.outputs[0]
    src, dst = ctx.t(x).dtype, ctx.t(y).dtype
    if node.attrs.get("saturate", 1) != 1 and dst not in DT_ENUM:
        raise ctx.reject("saturate=0 is only meaningful for float8 targets")
    params = dict(n=ctx.t(y).numel, **{"from": DT_ENUM[src]}, to=DT_ENUM[dst])
    return ctx.call("ef_cast_any", [ctx.vptr(x), ctx.vptr(y, out=True)], "ef_cast_params", params)
