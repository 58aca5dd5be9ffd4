"""edgeformer.targets."""
