"""The native C backend: emitter registry, per-op emitters and the C writer."""
from edgeformer.export.emit.record import Emission, emit_nodes
from edgeformer.export.emit.registry import register, supported_ops
from edgeformer.export.emit.writer import emit_c

__all__ = ["Emission", "emit_c", "emit_nodes", "register", "supported_ops"]
