"""edgeformer.nas."""
