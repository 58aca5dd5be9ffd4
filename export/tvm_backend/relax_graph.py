"""ONNX -> Relax (TVM 0.27 `from_onnx`, fixed shapes) -> "zero" pipeline -> a flat call list.

After LegalizeOps + FuseOps + FuseTIR, Relax `main` is a straight line of `R.call_tir`
bindings, each a TIR PrimFunc in destination-passing style (inputs..., output). That list,
not our IR graph, is what the TVM backend executes and plans: its tensors differ from ours
(TVM fuses differently), so it gets its own lifetimes and its own plan.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeformer.errors import UserError

DT_BYTES = {"float32": 4, "float16": 2, "int8": 1, "uint8": 1, "int16": 2, "int32": 4,
            "int64": 8, "bool": 1}


@dataclass(frozen=True)
class RTensor:
    """A tensor of the Relax program: an activation (data is None) or a constant."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * DT_BYTES[self.dtype]


@dataclass(frozen=True)
class RCall:
    """One kernel call: `kernel(*inputs, *outputs)` (destination-passing style)."""

    kernel: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass
class RProgram:
    tensors: dict[str, RTensor] = field(default_factory=dict)
    calls: list[RCall] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _shape_dict(model) -> dict[str, list[int]]:
    """Every graph input with symbolic dims fixed to 1 (as verify feeds it)."""
    inits = {i.name for i in model.graph.initializer}
    return {i.name: [d.dim_value if d.HasField("dim_value") else 1 for d in i.type.tensor_type.shape.dim]
            for i in model.graph.input if i.name not in inits}


def load_relax(onnx_path: str | Path):
    """ONNX file -> Relax IRModule with fixed shapes, constants folded in (not parameters)."""
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    model = onnx.load(str(onnx_path))
    try:
        with warnings.catch_warnings():  # "Renaming name a.b to a_b": C-safe names, expected
            warnings.simplefilter("ignore", UserWarning)
            return from_onnx(model, shape_dict=_shape_dict(model), keep_params_in_input=False)
    except Exception as e:  # TVM raises many kinds; name the model and the first line
        first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise UserError(f"TVM's ONNX frontend rejected {onnx_path}: {first}; "
                        "use --backend native") from e


def zero_pipeline(mod):
    """Legalize every op to TIR, fuse (FuseOps/FuseTIR): TVM's own kernel boundaries."""
    from tvm import relax
    mod = relax.transform.DecomposeOpsForInference()(mod)
    return relax.pipeline.zero_pipeline()(mod)


def _ttype(ty, what: str) -> tuple[tuple[int, ...], str]:
    from tvm import relax
    if not isinstance(ty, relax.TensorType) or ty.shape is None:
        raise UserError(f"TVM backend: {what} is {ty}, not a tensor of fixed shape; "
                        "use --backend native")
    try:
        shape = tuple(int(v) for v in ty.shape.values)
    except (TypeError, ValueError) as e:
        raise UserError(f"TVM backend: {what} has a symbolic shape {ty.shape}; "
                        "export with fixed input shapes") from e
    dtype = str(ty.dtype)
    if dtype not in DT_BYTES:
        raise UserError(f"TVM backend: {what} has dtype {dtype}; supported: {sorted(DT_BYTES)}")
    return shape, dtype


def relax_program(mod) -> RProgram:
    """Walk `main` (after the zero pipeline) into an RProgram; anything but call_tir,
    tuples and constants is rejected with the binding that caused it."""
    import tvm
    from tvm import relax

    call_tir = tvm.ir.Op.get("relax.call_tir")
    fn = mod["main"]
    prog = RProgram()
    names: dict[object, str] = {}   # Var -> tensor name (aliases share one name)
    tuples: dict[object, list[str]] = {}
    consts: list[tuple[object, str]] = []

    def fresh(base: str) -> str:  # Relax var names need not be unique (two `lv2`s happen)
        n, k = base, 1
        while n in prog.tensors:
            n, k = f"{base}_{k}", k + 1
        return n

    def name_of(expr) -> str:
        if isinstance(expr, tvm.ir.GenericConst):
            for c, n in consts:  # one C array per distinct constant object
                if c.same_as(expr):
                    return n
            shape, dtype = _ttype(expr.ty, "a constant")
            n = fresh(f"c{len(consts)}")
            data = expr.value.numpy().reshape(shape)
            prog.tensors[n] = RTensor(n, shape, dtype, data)
            consts.append((expr, n))
            return n
        if expr in names:
            return names[expr]
        raise UserError(f"TVM backend: unexpected argument {expr.script()[:80]} in Relax main")

    for p in fn.params:
        shape, dtype = _ttype(p.ty, f"input {p.name}")
        names[p] = fresh(p.name)
        prog.tensors[names[p]] = RTensor(names[p], shape, dtype)
        prog.inputs.append(names[p])
    for block in fn.body.blocks:
        for b in block.bindings:
            v, var = b.value, b.var
            if isinstance(v, tvm.ir.Call) and v.op.same_as(call_tir):
                ins = tuple(name_of(a) for a in v.args[1].fields)
                tys = v.ty.fields if isinstance(v.ty, relax.TupleType) else [v.ty]
                outs = []
                for k, ty in enumerate(tys):
                    n = fresh(var.name if len(tys) == 1 else f"{var.name}_{k}")
                    shape, dtype = _ttype(ty, f"output {n} of {v.args[0].name_hint}")
                    prog.tensors[n] = RTensor(n, shape, dtype)
                    outs.append(n)
                if len(tys) > 1:
                    tuples[var] = outs
                else:
                    names[var] = outs[0]
                prog.calls.append(RCall(v.args[0].name_hint, ins, tuple(outs)))
            elif isinstance(v, tvm.ir.Tuple):
                tuples[var] = [name_of(f) for f in v.fields]
            elif isinstance(v, tvm.ir.TupleGetItem) and v.tuple_value in tuples:
                names[var] = tuples[v.tuple_value][v.index]
            elif isinstance(v, tvm.ir.Var) and v in tuples:
                tuples[var] = tuples[v]
            elif isinstance(v, (tvm.ir.Var, tvm.ir.GenericConst)):
                names[var] = name_of(v)
            else:
                raise UserError(f"TVM backend: binding {var.name} = {v.script()[:100]} is not a "
                                "kernel call after the zero pipeline; use --backend native")
    ret = fn.body.body
    prog.outputs = list(tuples[ret]) if ret in tuples else [name_of(ret)]
    return prog
