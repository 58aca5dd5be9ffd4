"""Moved to export/memory/ (placement.py, plan_json.py). This re-export stays only until
export/tvm_backend/emit.py imports from edgeformer.export.memory; then delete this file."""
from edgeformer.export.memory import BufferReq, Plan, plan_to_dict

__all__ = ["BufferReq", "Plan", "plan_to_dict"]
