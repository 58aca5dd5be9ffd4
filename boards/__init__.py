"""edgeformer.boards."""
