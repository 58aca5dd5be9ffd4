"""Backend `tvm`: TVM 0.27 (Relax from_onnx -> zero pipeline -> TIR -> C) writes the kernels;
our executor owns the arena and the plan, with the native backend's API and file names.

`relax_static_plan` measures TVM's own memory plan (StaticPlanBlockMemory), the peer figure
bench/memory.py prints. TVM is imported lazily: importing this package stays cheap.
"""
from __future__ import annotations

__all__ = ["TVM_PLAN_KEYS", "emit_tvm_c", "relax_static_plan"]

# plan.json keys the TVM backend's own plan replaces (the exporter keeps our IR's others).
TVM_PLAN_KEYS = ("arena_bytes", "liveness_bound_bytes", "strategy", "buffers", "backend",
                 "kernel_calls", "max_workspace_bytes", "kernel_stack_bytes")


def emit_tvm_c(*args, **kwargs):
    from edgeformer.export.tvm_backend.emit import emit_tvm_c as f
    return f(*args, **kwargs)


def relax_static_plan(*args, **kwargs):
    from edgeformer.export.tvm_backend.static_plan import relax_static_plan as f
    return f(*args, **kwargs)
