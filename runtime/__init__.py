"""edgeformer.runtime."""
