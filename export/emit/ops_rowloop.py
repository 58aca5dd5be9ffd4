"""ef.RowLoop (export/passes/row_loop.py): `for (ef_r = 0; ef_r < rows; ++ef_r) { body }`.

The body's nodes go through their normal emitters with a body EmitCtx whose offsets say where
each body tensor is this iteration: intermediates at fixed offsets inside the node's scratch;
row-sliced outer tensors at `outer offset + ef_r * row bytes` (RowOffset) when row r is one
contiguous block, else gathered into / scattered from scratch with a strided copy; tensors
read whole at their own offsets. Outputs that may overwrite an input row are computed in
scratch and copied out last, after every read of that row.

For the profile, each part of the body (export/emit/profile_parts.py: norm, QKV, scores,
softmax, AV, projection, MLP) starts with EF_PROFILE_PART(slot) and the loop ends with
EF_PROFILE_LOOP(first slot, labels); both are empty unless the build defines them
(runtime/firmware/ef_profile.h), so a build without profiling runs the same instructions.
"""
from __future__ import annotations

import math

from edgeformer.export.emit.ctx import EmitCtx, c_comment, dense_strides, squeeze_dims
from edgeformer.export.emit.profile_parts import Part, loop_parts, loop_slots
from edgeformer.export.emit.registry import get_emitter, register
from edgeformer.export.ir import DTYPE_BYTES, Node
from edgeformer.export.memory import scratch_name

ROW = "ef_r"


class RowOffset:
    """An arena offset that moves with the row counter: `base + ef_r * row_bytes`. Adding an
    int shifts the base, so emitters that do offset arithmetic keep working."""

    def __init__(self, base: int, row_bytes: int):
        self.base, self.row_bytes = int(base), int(row_bytes)

    def __add__(self, delta: int) -> "RowOffset":
        return RowOffset(self.base + int(delta), self.row_bytes)

    __radd__ = __add__

    def __eq__(self, other) -> bool:
        return isinstance(other, RowOffset) and (self.base, self.row_bytes) == (other.base,
                                                                                other.row_bytes)

    def __hash__(self) -> int:
        return hash((self.base, self.row_bytes))

    def __str__(self) -> str:
        return f"{self.base} + {ROW} * {self.row_bytes}"

    __format__ = lambda self, spec: str(self)  # noqa: E731


def _row_copy(ctx: EmitCtx, outer: str, body_shape, axis: int, src: str, dst: str,
              gather: bool) -> list[str]:
    """Strided copy of row `ef_r` of `outer` between the outer tensor and a dense body buffer."""
    t = ctx.t(outer)
    es = DTYPE_BYTES[t.dtype]
    st = dense_strides(tuple(t.shape))
    shape, (s_out, s_body) = squeeze_dims(list(body_shape), st, dense_strides(tuple(body_shape)))
    if math.prod(t.shape[:axis]) == 1:   # contiguous row: a plain copy
        n = t.nbytes // t.shape[axis]
        return ctx.call("ef_copy_any", [str(n), src, dst])
    params = dict(rank=len(shape), elem_size=es, offset=0, dst_offset=0, shape=shape,
                  stride=s_out if gather else s_body, dst_stride=s_body if gather else s_out)
    return ctx.call("ef_strided_copy_any", [src, dst], "ef_strided_copy_params", params)


def _outer_base(ctx: EmitCtx, name: str, axis: int, const: bool) -> str:
    t = ctx.t(name)
    step = dense_strides(tuple(t.shape))[axis] * DTYPE_BYTES[t.dtype]
    base = (f"(const uint8_t *){ctx.weight(name, t.data)}" if const
            else f"ef_arena + {ctx.offsets[name]}")
    return f"({base} + {ROW} * {step})"


@register("ef.RowLoop")
def emit_rowloop(ctx: EmitCtx, node: Node) -> list[str]:
    a = node.attrs
    body = a["body"]
    base = ctx.offsets[scratch_name(node.name)] if a["scratch_bytes"] else 0
    offs: dict = {k: base + v for k, v in a["body_offsets"].items()}
    pre, post = [], []
    for m in a["row_inputs"]:
        t = ctx.t(m["outer"])
        row_bytes = t.nbytes // t.shape[m["axis"]]
        if m["body"] == m["outer"]:
            offs[m["body"]] = RowOffset(ctx.offsets[m["outer"]], row_bytes)
        else:
            src = _outer_base(ctx, m["outer"], m["axis"], t.is_const)
            pre += _row_copy(ctx, m["outer"], body.tensors[m["body"]].shape, m["axis"],
                             f"(const void *){src}", f"(void *)(ef_arena + {offs[m['body']]})",
                             gather=True)
    for m in a["row_outputs"]:
        t = ctx.t(m["outer"])
        if not m["copy"]:
            offs[m["body"]] = RowOffset(ctx.offsets[m["outer"]], t.nbytes // t.shape[m["axis"]])
        else:
            dst = _outer_base(ctx, m["outer"], m["axis"], False)
            post += _row_copy(ctx, m["outer"], body.tensors[m["body"]].shape, m["axis"],
                              f"(const void *)(ef_arena + {offs[m['body']]})", f"(void *){dst}",
                              gather=False)
    for name, t in body.tensors.items():   # read whole: where the outer plan put them
        if name not in offs and not t.is_const and name in ctx.offsets:
            offs[name] = ctx.offsets[name]
    bctx = EmitCtx(body, offs, ctx.prefix, ctx.weights)
    where = loop_slots(ctx.graph, node)     # None for a loop inside a loop: not timed apart
    parts = loop_parts(node) if where is not None else []
    op_index, slot = where or (0, 0)
    starts = {p.first: (slot + j, p) for j, p in enumerate(parts)}
    lines = _marker_fallbacks() if parts else []
    lines.append(f"for (int {ROW} = 0; {ROW} < {a['rows']}; ++{ROW}) {{")
    if 0 in starts:
        lines.append("    " + _marker(*starts.pop(0)))
    lines += ["    " + s for s in pre]
    if pre:
        lines.append("    if (st != EF_OK) break;")
    for i, n in enumerate(body.nodes):
        bctx.node = n
        code = get_emitter(n.op, n.name).fn(bctx, n)
        if i in starts:
            lines.append("    " + _marker(*starts[i]))
        lines.append(f"    /* {c_comment(n.name)} ({n.op}) */")
        lines += ["    " + s for s in code]
        lines.append("    if (st != EF_OK) break;")
    lines += ["    " + s for s in post]
    lines.append("}")
    if parts:
        # what profile.bin names each part slot, "op index \x1f module path \x1f role", one
        # after the other; the literal's own NUL ends the list
        labels = " ".join(_c_string(f"{op_index}\x1f{p.name}\x1f{p.role}\0") for p in parts)
        lines.append(f"EF_PROFILE_LOOP({slot}, {labels});")
    return lines


def _marker(slot: int, part: Part) -> str:
    return f"EF_PROFILE_PART({slot});   /* part: {c_comment(part.name)} ({part.role}) */"


def _marker_fallbacks() -> list[str]:
    """No-op markers for builds without the profiling header (every user build)."""
    return ["#ifndef EF_PROFILE_PART", "#define EF_PROFILE_PART(k) ((void)0)", "#endif",
            "#ifndef EF_PROFILE_LOOP", "#define EF_PROFILE_LOOP(first, labels) ((void)0)", "#endif"]


def _c_string(text: str) -> str:
    """A C string literal of `text`: printable ASCII as is; quotes, backslashes, '?' (no
    trigraphs) and everything else as 3-digit octal escapes (they never run into a digit)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\?' else f"\\{b:03o}"
                         for b in text.encode()) + '"'
