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
    # Hand-sized for the search benchmark (bench/search_accuracy.py): the reference presets
    # scaled up by hand to the largest that the search's memory model accepts on the default
    # board's core. Sizes measured with nas.memory.candidate_memory (cortex-m7, flash 1 MiB):
    # tests/unit/test_supernet.py re-checks that each fits its budget.
    # Fashion-mnist, the rule a spreadsheet would follow: vit-fmnist's shape (4 heads, MLP
    # ratio 2, full rank), patch 4 or 2, dim and depth from the space's lists: the most MACs
    # that fit. Finer patches buy accuracy with SRAM (tokens), wider/deeper ones with flash.
    # vit-fmnist-32k: SRAM 27,160 B, flash 892,272 B (no patch-2 ViT of that shape fits 32 KiB;
    # dim 128 depth 4 needs more than 1 MiB flash).
    "vit-fmnist-32k": ViTSpec(in_channels=1, image_size=28, patch_size=4, dim=128, depth=3,
                              heads=4, mlp_ratio=2.0, num_classes=10),
    # vit-fmnist-64k: SRAM 47,584 B, flash 350,443 B (patch 2, dim 96 needs 66,376 B SRAM).
    "vit-fmnist-64k": ViTSpec(in_channels=1, image_size=28, patch_size=2, dim=64, depth=4,
                              heads=4, mlp_ratio=2.0, num_classes=10),
    # vit-fmnist-128k: SRAM 85,192 B, flash 908,016 B; also the 320 KiB preset: with patch 2
    # (the space's finest) depth 4 needs more than 1 MiB flash, so nothing larger fits.
    "vit-fmnist-128k": ViTSpec(in_channels=1, image_size=28, patch_size=2, dim=128, depth=3,
                               heads=4, mlp_ratio=2.0, num_classes=10),
    # lmuformer-fsdd-16k: SRAM 13,752 B, flash 696,734 B (memory order 64 at depth 3 needs 19,384 B).
    "lmuformer-fsdd-16k": LMUFormerSpec(in_features=13, seq_len=32, patch_channels=(32, 64),
                                        patch_kernel=3, dim=128, memory_order=32, theta=32.0,
                                        memory_inputs=4, hidden=128, mlp_ratio=2.0, depth=3,
                                        num_classes=10),
    # lmuformer-fsdd-32k: SRAM 20,136 B, flash 703,305 B; fits 64 KiB too (the space's widest
    # patch stages, dim, hidden, memory order and depth: nothing larger to scale to by hand).
    "lmuformer-fsdd-32k": LMUFormerSpec(in_features=13, seq_len=32, patch_channels=(64, 64),
                                        patch_kernel=3, dim=128, memory_order=64, theta=32.0,
                                        memory_inputs=4, hidden=128, mlp_ratio=2.0, depth=3,
                                        num_classes=10),
}

KIB = 1024
# (dataset, SRAM budget in bytes) -> the hand-sized preset for it; flash 1 MiB throughout.
BUDGET_PRESETS: dict[tuple[str, int], str] = {
    ("fashion-mnist", 32 * KIB): "vit-fmnist-32k",
    ("fashion-mnist", 64 * KIB): "vit-fmnist-64k",
    ("fashion-mnist", 128 * KIB): "vit-fmnist-128k",
    ("fashion-mnist", 320 * KIB): "vit-fmnist-128k",
    ("fsdd", 16 * KIB): "lmuformer-fsdd-16k",
    ("fsdd", 32 * KIB): "lmuformer-fsdd-32k",
    ("fsdd", 64 * KIB): "lmuformer-fsdd-32k",
}
BUDGET_FLASH = 1024 * KIB


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
    "vit-fmnist-32k": "fashion-mnist",
    "vit-fmnist-64k": "fashion-mnist",
    "vit-fmnist-128k": "fashion-mnist",
    "lmuformer-fsdd-16k": "fsdd",
    "lmuformer-fsdd-32k": "fsdd",
}
