"""Moved to export/memory/lifetimes.py. This re-export stays only until export/emit/ctx.py and
export/emit/ops_rowloop.py import scratch_name from edgeformer.export.memory; then delete it."""
from edgeformer.export.memory import scratch_name

__all__ = ["scratch_name"]
