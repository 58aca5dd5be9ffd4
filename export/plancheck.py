"""Moved to export/memory/check.py. This re-export stays only until tests/unit/test_tvm_backend.py
imports check_plan from edgeformer.export.memory; then delete this file."""
from edgeformer.export.memory import check_plan

__all__ = ["check_plan"]
