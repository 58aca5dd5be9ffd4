"""edgeformer: tiny transformers from a memory budget to a Cortex-M binary."""

__version__ = "0.1.0"


# `edgeformer.export(...)` (the Python API, edgeformer/api.py): the export package is callable.
from edgeformer import export  # noqa: E402,F401
