"""The native C backend: emitter registry, per-op emitters and the C writer."""
from edgeformer.export.emit.registry import register, supported_ops
from edgeformer.export.emit.writer import alias_hints, emit_c

__all__ = ["alias_hints", "emit_c", "register", "supported_ops"]
