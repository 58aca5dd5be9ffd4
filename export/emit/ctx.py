"""EmitCtx: what an emitter sees while it writes one node's C call.

It maps tensor names to C pointer expressions (arena offsets for activations, `const`
arrays in weights.c for constants), collects the constants actually used, and formats
params structs as C99 designated initialisers.
"""
from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from edgeformer.errors import UserError
from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.export.kernel_limits import MAX_DIMS  # noqa: F401  (the emitters import it from here)

C_TYPES = {"float32": "float", "float16": "uint16_t", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t",
           "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t"}
DT_ENUM = {"float32": "EF_DT_F32", "int8": "EF_DT_I8", "uint8": "EF_DT_U8",
           "int16": "EF_DT_I16", "int32": "EF_DT_I32", "int64": "EF_DT_I64",
           "bool": "EF_DT_BOOL"}


def c_float(v: float) -> str:
    v = float(np.float32(v))
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(v) + "f"


def c_value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return c_float(v)
    if isinstance(v, dict):  # nested struct
        return "{" + ", ".join(f".{k} = {c_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(c_value(x) for x in v) + "}" if v else "{0}"
    raise TypeError(f"cannot format {v!r} as C")


def c_comment(s: str) -> str:
    """Text that is safe inside a C block comment (neither closes nor nests one)."""
    return s.replace("*/", "* /").replace("/*", "/ *")


@dataclass(frozen=True)
class KernelCall:
    """One kernel call an emitter wrote: for which node (a row loop's body node for a call
    inside the loop), the C function, its params struct type and fields (None / {} when the
    kernel takes positional arguments only)."""

    node: str
    op: str
    kernel: str
    ptype: str | None
    params: dict


# The calls of the node being recorded (emit/record.py), whichever EmitCtx writes them: a row
# loop's body gets its own EmitCtx (ops_rowloop.py), and its calls belong to the loop's node.
RECORDING: ContextVar[list[KernelCall] | None] = ContextVar("edgeformer_emit_recording", default=None)


@dataclass
class EmitCtx:
    graph: Graph
    offsets: dict[str, int]
    prefix: str                      # C symbol prefix for this model's weights
    weights: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)  # key -> (cname, data)
    node: Node | None = None

    # -- tensors -------------------------------------------------------------------
    def t(self, name: str) -> Tensor:
        return self.graph.tensors[name]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.graph.tensors[name].shape)

    def const(self, name: str) -> np.ndarray | None:
        if not name:
            return None
        return self.graph.tensors[name].data

    def need_const(self, name: str, what: str) -> np.ndarray:
        data = self.const(name)
        if data is None:
            raise self.reject(f"{what} ({name}) must be a constant at export time; "
                              "export the model with static shapes/axes")
        return data

    def reject(self, why: str) -> UserError:
        n = self.node
        return UserError(f"{n.op} node {n.name}: {why}" if n else why)

    # -- pointers ------------------------------------------------------------------
    def ptr(self, name: str, out: bool = False, ctype: str | None = None) -> str:
        """Typed C pointer to tensor `name`; NULL for an omitted optional input ("")."""
        if not name:
            return "NULL"
        t = self.t(name)
        ct = ctype or C_TYPES[t.dtype]
        if t.is_const:
            if out:
                raise self.reject(f"output {name} is a constant")
            return self.weight(name, t.data)
        return f"({'' if out else 'const '}{ct} *)(ef_arena + {self.offsets[name]})"

    def scratch(self, ctype: str = "uint8_t") -> str:
        """Pointer to the current node's planned scratch (node.attrs["scratch_bytes"] bytes)."""
        from edgeformer.export.memory import scratch_name
        key = scratch_name(self.node.name)
        if key not in self.offsets:
            raise self.reject("needs scratch but the plan has none; set attrs['scratch_bytes']")
        return f"({ctype} *)(ef_arena + {self.offsets[key]})"

    def vptr(self, name: str, out: bool = False) -> str:
        return self.ptr(name, out, ctype="void")

    def weight(self, key: str, data: np.ndarray, dtype: str | None = None) -> str:
        """Name of the const array in weights.c holding `data` (added on first use)."""
        if key not in self.weights:
            data = np.ascontiguousarray(data if dtype is None else data.astype(dtype))
            self.weights[key] = (f"{self.prefix}_w{len(self.weights)}", data)
        return self.weights[key][0]

    def extra(self, tag: str, data: np.ndarray, dtype: str) -> str:
        """A derived constant (e.g. int32 indices) owned by the current node."""
        return self.weight(f"{self.node.name}#{tag}", data, dtype)

    # -- code ----------------------------------------------------------------------
    def _record(self, kernel: str, ptype: str | None, params: dict | None) -> None:
        log = RECORDING.get()
        if log is not None:
            n = self.node
            log.append(KernelCall(n.name if n else "", n.op if n else "", kernel, ptype, dict(params or {})))

    def call(self, kernel: str, args: list[str], ptype: str | None = None,
             params: dict | None = None) -> list[str]:
        self._record(kernel, ptype, params)
        if ptype is None:
            return [f"st = {kernel}({', '.join(args)});"]
        fields = ", ".join(f".{k} = {c_value(v)}" for k, v in params.items())
        return [f"{{ static const {ptype} p = {{{fields}}};",
                f"  st = {kernel}(&p, {', '.join(args)}); }}"]

    def call_declared(self, kernel: str, args: list[str], proto: str, header: str) -> list[str]:
        """A call to a kernel whose prototype model.c does not include (it includes only
        ef_kernels.h): the call carries `proto`, from `header`."""
        self._record(kernel, None, None)
        return [f"{{ {proto}  /* {header} */", f"  st = {kernel}({', '.join(args)}); }}"]


def dense_strides(shape: tuple[int, ...]) -> list[int]:
    s, acc = [], 1
    for d in reversed(shape):
        s.append(acc)
        acc *= d
    return s[::-1]


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of `in_shape` read as `out_shape` (numpy broadcasting; 0 on bcast)."""
    pad = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    dense = dense_strides(pad)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(pad, out_shape, dense)]


def squeeze_dims(shape, *stride_tables):
    """Merge contiguous dims and drop size-1 dims so every table fits EF_MAX_DIMS."""
    dims = [(d, [t[i] for t in stride_tables]) for i, d in enumerate(shape) if d != 1]
    merged: list[tuple[int, list[int]]] = []
    for d, st in dims:
        if merged and all(ps == s * d for ps, s in zip(merged[-1][1], st)):
            pd, _ = merged[-1]
            merged[-1] = (pd * d, st)
        else:
            merged.append((d, st))
    if not merged:
        merged = [(1, [0] * len(stride_tables))]
    out_shape = [d for d, _ in merged]
    tables = [[st[k] for _, st in merged] for k in range(len(stride_tables))]
    return out_shape, tables
