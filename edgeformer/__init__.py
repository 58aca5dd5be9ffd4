"""edgeformer: tiny transformers from a memory budget to a Cortex-M binary."""

__version__ = "0.1.0"


def export(model, example_inputs=None, **kwargs):
    """edgeformer.export(module_or_onnx_path, example_inputs, quantize="int8", calib=..., out=...)
    -> Artifact with verify(), build(board), run(board), profile(board); see edgeformer/api.py."""
    from edgeformer.api import export as _export
    return _export(model, example_inputs, **kwargs)
