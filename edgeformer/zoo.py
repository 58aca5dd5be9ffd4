"""Named presets: each is a spec (data), not a subclass.

`vit-tiny-ref` is fixed by CONTRACT.md (the peer-comparison workload); the
others are sized for their dataset. `tiny-*` presets exist for fast tests.
"""
from __future__ import annotations

from edgeformer.errors import UserError
from edgeformer.specs import LMUFormerSpec, Spec, ViTSpec

PRESETS: dict[str, Spec] = {
    # CONTRACT.md: 3x32x32, 4x4 conv patches (64 tokens), dim 64, depth 2, 4 heads,
    # MLP ratio 2, GELU, final LN, mean over tokens, 10 classes, dense.
    "vit-tiny-ref": ViTSpec(in_channels=3, image_size=32, patch_size=4, dim=64, depth=2,
                            heads=4, mlp_ratio=2.0, num_classes=10),
    "vit-fmnist": ViTSpec(in_channels=1, image_size=28, patch_size=4, dim=64, depth=3,
                          heads=4, mlp_ratio=2.0, num_classes=10),
    "lmuformer-fsdd": LMUFormerSpec(in_features=13, seq_len=32, patch_channels=(32, 64),
                                    patch_kernel=3, dim=64, memory_order=32, theta=32.0,
                                    memory_inputs=4, hidden=64, mlp_ratio=2.0, depth=1,
                                    num_classes=10),
    "spiking-lmuformer-fsdd": LMUFormerSpec(in_features=13, seq_len=32, patch_channels=(32, 64),
                                            patch_kernel=3, dim=64, memory_order=32, theta=32.0,
                                            memory_inputs=4, hidden=64, mlp_ratio=2.0, depth=1,
                                            num_classes=10, spiking=True),
    # Small presets for fast tests and the demo (8x8 digits, short sequences).
    "vit-digits": ViTSpec(in_channels=1, image_size=8, patch_size=2, dim=32, depth=1,
                          heads=2, mlp_ratio=2.0, num_classes=10),
    "lmuformer-tiny": LMUFormerSpec(in_features=13, seq_len=32, patch_channels=(16,),
                                    patch_kernel=3, dim=16, memory_order=8, theta=16.0,
                                    memory_inputs=1, hidden=16, mlp_ratio=1.0, depth=1,
                                    num_classes=10),
}


def preset(name: str) -> Spec:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None

# The dataset each preset is sized for: the default for calibration and verification.
# vit-tiny-ref (3x32x32) has no offline dataset here; it is exported untrained for memory
# and latency comparisons, calibrated on seeded random inputs.
DEFAULT_DATASETS: dict[str, str] = {
    "vit-fmnist": "fashion-mnist",
    "lmuformer-fsdd": "fsdd",
    "spiking-lmuformer-fsdd": "fsdd",
    "vit-digits": "digits",
    "lmuformer-tiny": "fsdd",
}
