"""Search spaces: one `suggest(trial, ds) -> Spec` per family, the only code that talks to Optuna.

The dataset fixes the input shape and the class count; every other field is an axis here.
Choices are categorical lists of values the specs accept, so any sample is a valid spec
(tests/unit/test_nas_space.py samples each space). `Space.corners(ds)` are the specs at the
small end of every axis (every choice of the axes where small capacity is not small memory):
the search asks the memory model for them to say the smallest SRAM/flash the space reaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgeformer.errors import UserError
from edgeformer.specs import LMUFormerSpec, Spec, ViTSpec

# ViT (MCUFormer's axes). Every dim is a multiple of 8, so every head count divides it.
VIT_DIMS = (8, 16, 24, 32, 48, 64, 96, 128)
VIT_HEADS = (1, 2, 4)
VIT_DEPTHS = (1, 2, 3, 4)
VIT_MLP_RATIOS = (0.5, 1.0, 2.0, 3.0, 4.0)
VIT_LOW_RANK = (0.25, 0.5, 1.0)
# MNIST-sized and larger images (>= WIDE_FROM px) also get wider and deeper ViTs, so that the
# space's largest candidates reach past the largest budgets of the benchmark's real boards
# (1 MiB flash; SRAM: p2 d256 needs about 2x the 98 KB of p2 d128), and every budget binds
# (issue 15). 8x8 inputs (digits) keep the narrow axes: their largest already pass the small
# budgets tried on them, and a d256 L6 supernet would make the tests' searches 6x slower.
VIT_WIDE_DIMS = VIT_DIMS + (192, 256)
VIT_DEEP_DEPTHS = VIT_DEPTHS + (5, 6)
WIDE_FROM = 16
# Patch sizes giving 4..196 tokens; the input resolution is the dataset's. 196 = 28x28 images in
# 2x2 patches: finer patches are how a ViT spends a larger SRAM budget without more flash
# (MCUFormer's resolution axis). 784 (1x1) would need 5x the MACs of the 2x2 ViTs for pixels.
VIT_TOKENS = (4, 196)

# LMUFormer (memory order, theta, hidden size, depth, patch-embedding widths).
LMU_PATCH_LAYERS = (1, 2)                # patch-embedding stages
LMU_PATCH_WIDTHS = (8, 16, 32, 64)
LMU_PATCH_KERNELS = (1, 3, 5)
LMU_DIMS = (8, 16, 32, 48, 64, 96, 128)
LMU_ORDERS = (4, 8, 16, 32, 64)
LMU_MEMORY_INPUTS = (1, 2, 4)
LMU_HIDDEN = (8, 16, 32, 64, 128)
LMU_MLP_RATIOS = (0.5, 1.0, 2.0, 4.0)
LMU_DEPTHS = (1, 2, 3)
LMU_THETA_FRACTIONS = (0.25, 0.5, 1.0)   # theta = fraction x sequence length (window in steps)
LIF_THRESHOLDS = (0.5, 0.75, 1.0, 1.5, 2.0)
LIF_LEAKS = (0.25, 0.5, 0.75, 0.9)


def patch_sizes(image_size: int) -> tuple[int, ...]:
    lo, hi = VIT_TOKENS
    sizes = tuple(p for p in range(1, image_size + 1)
                  if image_size % p == 0 and lo <= (image_size // p) ** 2 <= hi)
    if not sizes:
        raise UserError(f"no patch size gives {lo}..{hi} tokens for {image_size}x{image_size} images; "
                        "resize the images to 8..64 pixels")
    return sizes


def vit_axes(image_size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(dims, depths) of the ViT space for images of this size."""
    if image_size >= WIDE_FROM:
        return VIT_WIDE_DIMS, VIT_DEEP_DEPTHS
    return VIT_DIMS, VIT_DEPTHS


def _image_ds(ds, family: str) -> tuple[int, int]:
    if ds.kind != "image" or ds.input_shape[1] != ds.input_shape[2]:
        raise UserError(f"family {family} needs square images; dataset {ds.name} gives {ds.kind} {ds.input_shape}; "
                        "use --family lmuformer for sequences")
    return ds.input_shape[0], ds.input_shape[1]


def _seq_ds(ds, family: str) -> tuple[int, int]:
    if ds.kind != "sequence":
        raise UserError(f"family {family} needs sequences (N x T x F); dataset {ds.name} gives {ds.kind} "
                        f"{ds.input_shape}; use --family vit for images")
    return ds.input_shape


def _suggest_vit(trial, ds, spiking: bool) -> ViTSpec:
    c, size = _image_ds(ds, "spiking-vit" if spiking else "vit")
    dims, depths = vit_axes(size)
    axes = dict(patch_size=trial.suggest_categorical("patch_size", patch_sizes(size)),
                dim=trial.suggest_categorical("dim", dims),
                heads=trial.suggest_categorical("heads", VIT_HEADS),
                depth=trial.suggest_categorical("depth", depths),
                mlp_ratio=trial.suggest_categorical("mlp_ratio", VIT_MLP_RATIOS),
                low_rank_ratio=trial.suggest_categorical("low_rank_ratio", VIT_LOW_RANK))
    if spiking:
        # The MLP's activation is a stateless spike (x > threshold): no leak to choose.
        axes.update(spiking_mlp=True, lif_threshold=trial.suggest_categorical("lif_threshold", LIF_THRESHOLDS))
    return ViTSpec(in_channels=c, image_size=size, num_classes=max(2, ds.num_classes), **axes)


def suggest_vit(trial, ds) -> ViTSpec:
    return _suggest_vit(trial, ds, spiking=False)


def suggest_spiking_vit(trial, ds) -> ViTSpec:
    return _suggest_vit(trial, ds, spiking=True)


def _suggest_lmu(trial, ds, spiking: bool) -> LMUFormerSpec:
    family = "spiking-lmuformer" if spiking else "lmuformer"
    seq_len, feats = _seq_ds(ds, family)
    n_patch = trial.suggest_categorical("patch_layers", LMU_PATCH_LAYERS)
    widths = tuple(trial.suggest_categorical(f"patch_width{i}", LMU_PATCH_WIDTHS) for i in range(n_patch))
    lif = {}
    if spiking:
        lif = {"lif_threshold": trial.suggest_categorical("lif_threshold", LIF_THRESHOLDS),
               "lif_leak": trial.suggest_categorical("lif_leak", LIF_LEAKS)}
    return LMUFormerSpec(in_features=feats, seq_len=seq_len, num_classes=max(2, ds.num_classes),
                         patch_channels=widths,
                         patch_kernel=trial.suggest_categorical("patch_kernel", LMU_PATCH_KERNELS),
                         dim=trial.suggest_categorical("dim", LMU_DIMS),
                         memory_order=trial.suggest_categorical("memory_order", LMU_ORDERS),
                         theta=float(seq_len) * trial.suggest_categorical("theta_fraction", LMU_THETA_FRACTIONS),
                         memory_inputs=trial.suggest_categorical("memory_inputs", LMU_MEMORY_INPUTS),
                         hidden=trial.suggest_categorical("hidden", LMU_HIDDEN),
                         mlp_ratio=trial.suggest_categorical("mlp_ratio", LMU_MLP_RATIOS),
                         depth=trial.suggest_categorical("depth", LMU_DEPTHS),
                         spiking=spiking, **lif)


def suggest_lmuformer(trial, ds) -> LMUFormerSpec:
    return _suggest_lmu(trial, ds, spiking=False)


def suggest_spiking_lmuformer(trial, ds) -> LMUFormerSpec:
    return _suggest_lmu(trial, ds, spiking=True)


# Axes whose first (smallest-capacity) choice is not always the smallest in memory, so the
# corners take every choice of these: a low-rank split adds an op (its code, its scratch); one
# head vs several changes the attention's reshapes; a patch size trades tokens for weights.
CORNER_AXES = frozenset({"patch_size", "heads", "low_rank_ratio"})


class _CornerTrial:
    """Answers the first choice of every axis (the last with `largest`), or the value `fixed`
    gives; notes the first axis of `branch_axes` it was free to choose (the next to branch on)."""

    def __init__(self, fixed: dict, branch_axes, largest: bool = False) -> None:
        self.fixed, self.branch_axes, self.pick = fixed, branch_axes, -1 if largest else 0
        self.params, self.branch = {}, None

    def suggest_categorical(self, name: str, choices):
        choices = tuple(choices)
        if name in self.fixed:
            value = self.fixed[name]
        else:
            value = choices[self.pick]
            if name in self.branch_axes and self.branch is None:
                self.branch = (name, choices)
        self.params[name] = value
        return value


@dataclass(frozen=True)
class Space:
    family: str                                  # the `--family` name
    suggest: Callable[..., Spec]                 # suggest(trial, ds) -> Spec
    arch: str                                    # the model it samples: its supernet layout and recipe
    spiking: bool = False

    def extreme_trials(self, ds, branch_axes, largest: bool = False) -> list[tuple[dict, Spec]]:
        """(Optuna params, spec) for every combination of choices on `branch_axes`, each other
        axis at its first (smallest) choice, or its last with `largest`."""
        out, todo = [], [{}]
        while todo:
            fixed = todo.pop(0)
            trial = _CornerTrial(fixed, branch_axes, largest)
            spec = self.suggest(trial, ds)
            if trial.branch is None:
                out.append((trial.params, spec))
            else:
                name, choices = trial.branch
                todo += [{**fixed, name: c} for c in choices]
        return out

    def corner_trials(self, ds) -> list[tuple[dict, Spec]]:
        """(Optuna params, spec) of the space's smallest specs: the first choice on every axis,
        every choice on CORNER_AXES. The search asks the memory model for these to say the
        smallest SRAM/flash the space reaches, and enqueues one that fits if its sampler finds none."""
        return self.extreme_trials(ds, CORNER_AXES)

    def corners(self, ds) -> list[Spec]:
        return [spec for _, spec in self.corner_trials(ds)]


SPACES: dict[str, Space] = {
    "vit": Space("vit", suggest_vit, "vit"),
    "spiking-vit": Space("spiking-vit", suggest_spiking_vit, "vit", spiking=True),
    "lmuformer": Space("lmuformer", suggest_lmuformer, "lmuformer"),
    "spiking-lmuformer": Space("spiking-lmuformer", suggest_spiking_lmuformer, "lmuformer", spiking=True),
}


def space(family: str) -> Space:
    try:
        return SPACES[family]
    except KeyError:
        raise UserError(f"unknown family {family!r}; known families: {', '.join(SPACES)}") from None


# ------------------------------------------------------------------ sampling without Optuna
# Axes whose choice list is not ordered from small to large capacity: the supernet's
# sandwich rule ("largest", "smallest" sub-network) draws these at random instead.
UNORDERED_AXES = frozenset({"patch_size", "heads", "theta_fraction", "lif_threshold", "lif_leak"})


class ChoiceTrial:
    """A stand-in for an Optuna trial that answers `suggest_categorical` itself, so the
    supernet trains exactly the sub-networks the space's own `suggest` code describes.

    mode "random": a uniform choice per axis; "largest" / "smallest": the last / first choice
    on ordered axes (the space lists choices small to large), random on UNORDERED_AXES.
    """

    def __init__(self, rng, mode: str = "random") -> None:
        if mode not in ("random", "largest", "smallest"):
            raise ValueError(f"ChoiceTrial mode {mode!r}; allowed random, largest, smallest")
        self.rng, self.mode = rng, mode
        self.params: dict[str, object] = {}

    def suggest_categorical(self, name: str, choices):
        choices = tuple(choices)
        if self.mode == "random" or name in UNORDERED_AXES:
            value = choices[int(self.rng.integers(len(choices)))]
        else:
            value = choices[-1] if self.mode == "largest" else choices[0]
        self.params[name] = value
        return value


def sample(sp: Space, ds, rng, mode: str = "random") -> Spec:
    """One spec of the space for `ds`: random, or the largest / smallest on every ordered axis."""
    return sp.suggest(ChoiceTrial(rng, mode), ds)
