"""edgeformer: tiny transformers from a memory budget to a Cortex-M binary."""

__version__ = "0.1.0"
