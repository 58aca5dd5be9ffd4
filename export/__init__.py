"""edgeformer.export: the lowering package, and (called) the Python API.

`edgeformer.export(module_or_onnx_path, example_inputs, quantize=..., calib=..., out=...)` is
CONTRACT.md's notebook entry point, but `edgeformer.export` is also this package's name, so the
package itself is made callable: calling it is edgeformer.api.export.
"""
import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, model, example_inputs=None, **kwargs):
        from edgeformer.api import export
        return export(model, example_inputs, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
