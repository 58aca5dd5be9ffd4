"""TVM Relax's own static memory plan for an ONNX model: the peer figure in bench/memory.py.

Method (as ANCHORS.md states it): from_onnx with fixed shapes -> zero pipeline -> the
default build pipeline up to and including StaticPlanBlockMemory. That pass turns every
intermediate `R.builtin.alloc_tensor` into `R.memory.alloc_storage` (a planned pool, reused
across tensors; constant size for static shapes) + `R.memory.alloc_tensor`; what it leaves
as `R.builtin.alloc_tensor` (the function's outputs) the VM allocates on its own.
Kernel scratch is separate: TIR intermediates FuseTIR could not inline are requested at run
time through TVMBackendAllocWorkspace; one kernel runs at a time, so the peak is the
largest single kernel's requests (read from the generated C, the same numbers the TVM
backend plans into its arena).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeformer.export.tvm_backend.relax_graph import DT_BYTES, load_relax, relax_program, zero_pipeline


def _plan_passes():
    from tvm.relax import backend, transform
    # default_build_pipeline() in tvm/relax/pipeline.py, cut after StaticPlanBlockMemory
    return [backend.DispatchSampling(), backend.DispatchSortScan(), transform.LegalizeOps(),
            transform.RewriteDataflowReshape(), transform.ToNonDataflow(),
            transform.RemovePurityChecking(), transform.CallTIRRewrite(),
            transform.StaticPlanBlockMemory()]


def _const_shape(expr) -> list[int]:
    return [int(v) for v in expr.values]


def storage_allocations(mod) -> tuple[list[int], list[int]]:
    """(planned storage sizes, unplanned tensor sizes) in bytes from Relax `main`."""
    import tvm
    storage = tvm.ir.Op.get("relax.memory.alloc_storage")
    builtin = tvm.ir.Op.get("relax.builtin.alloc_tensor")
    planned, unplanned = [], []
    for block in mod["main"].body.blocks:
        for b in block.bindings:
            v = b.value
            if not isinstance(v, tvm.ir.Call):
                continue
            if v.op.same_as(storage):
                planned.append(_const_shape(v.args[0])[0])
            elif v.op.same_as(builtin):
                n = 1
                for d in _const_shape(v.args[0]):
                    n *= d
                unplanned.append(n * DT_BYTES[str(v.args[1].value)])
    return planned, unplanned


def relax_static_plan(onnx_path: str | Path) -> dict[str, Any]:
    """TVM Relax's static plan for `onnx_path`:

    planned_bytes: sum of R.memory.alloc_storage sizes (StaticPlanBlockMemory's pools);
    output_bytes: outputs left to the VM (R.builtin.alloc_tensor);
    input_bytes: the caller's inputs (outside TVM's plan; our arena holds both kinds of I/O);
    scratch_bytes: the largest single kernel's TVMBackendAllocWorkspace requests;
    total_bytes: planned + scratch (what ANCHORS.md reports as "X + Y kernel scratch")."""
    import tvm
    from tvm.target import Target

    from edgeformer.export.tvm_backend.kernels_c import build_kernels_c

    fused = zero_pipeline(load_relax(onnx_path))
    with Target({"kind": "llvm"}):
        planned_mod = tvm.transform.Sequential(_plan_passes())(fused)
    planned, unplanned = storage_allocations(planned_mod)
    _, info = build_kernels_c(fused, "ef_peer")
    prog = relax_program(fused)
    inputs = sum(prog.tensors[n].nbytes for n in prog.inputs)
    scratch = max((k.workspace_bytes for k in info.values()), default=0)
    return {"planned_bytes": sum(planned), "storages": planned, "output_bytes": sum(unplanned),
            "input_bytes": inputs,
            "scratch_bytes": scratch, "total_bytes": sum(planned) + scratch,
            "tvm_version": tvm.__version__}
