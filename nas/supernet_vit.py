"""ViT supernet layout: the largest tensor per role, and how a ViTSpec's state_dict is sliced from it.

AutoFormer-style weight sharing: a sub-network of width d, depth L, MLP width h and low-rank
inner width r uses the first d channels, the first L blocks, the first h hidden units and
the first r factor rows of the shared tensors. Dense and low-rank forms of a linear have
their own weights (a factorisation is not a slice of a dense matrix) and share the bias.

Patch size: one patch embedding (conv + position table) per patch-size option, the blocks
shared by all. The blocks do not depend on the token count, so one training pass serves every
patch size; one supernet per patch size would cost three trainings and give each a third of
the steps. q, k and v are stored as three (dim_max, dim_max) groups so that the first d rows
of each group make exactly the d -> 3d layout (q | k | v) that `edgeformer.models.vit` splits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from edgeformer.errors import UserError
from edgeformer.nas.space import VIT_DEPTHS, VIT_DIMS, VIT_LOW_RANK, VIT_MLP_RATIOS, patch_sizes, vit_axes
from edgeformer.specs import ViTSpec, low_rank_dim

Get = Callable[[str], torch.Tensor]


def linear_roles(role: str, d_in: int, d_out: int, rank: int, groups: int = 1) -> dict[str, tuple]:
    """Shapes of one sliceable linear: dense weight, low-rank factors, one shared bias."""
    return {f"{role}:w": ((groups, d_out, d_in), "normal"), f"{role}:down": ((rank, d_in), "normal"),
            f"{role}:up": ((groups, d_out, rank), "normal"), f"{role}:b": ((groups, d_out), "zeros")}


def linear_state(get: Get, role: str, key: str, d_in: int, d_out: int, ratio: float,
                 groups: int = 1) -> dict[str, torch.Tensor]:
    """state_dict entries of `block_linear(d_in, groups * d_out, ratio)` under `key`."""
    bias = get(f"{role}:b")[:, :d_out].reshape(groups * d_out)
    if ratio >= 1.0:
        return {f"{key}.weight": get(f"{role}:w")[:, :d_out, :d_in].reshape(groups * d_out, d_in),
                f"{key}.bias": bias}
    r = low_rank_dim(ratio, d_in, groups * d_out)
    return {f"{key}.down.weight": get(f"{role}:down")[:r, :d_in],
            f"{key}.up.weight": get(f"{role}:up")[:, :d_out, :r].reshape(groups * d_out, r),
            f"{key}.up.bias": bias}


@dataclass(frozen=True)
class ViTLayout:
    """Bounds of the ViT space for one dataset (input shape and classes are the dataset's)."""

    in_channels: int
    image_size: int
    num_classes: int
    patch_sizes: tuple[int, ...]
    dim: int = max(VIT_DIMS)
    depth: int = max(VIT_DEPTHS)
    mlp_hidden: int = max(1, int(round(max(VIT_DIMS) * max(VIT_MLP_RATIOS))))
    # The widest factorisation: qkv (d -> 3d) has r = ratio * d, the others ratio * min(d_in, d_out) <= ratio * d.
    rank: int = low_rank_dim(max(r for r in VIT_LOW_RANK if r < 1.0), max(VIT_DIMS), 3 * max(VIT_DIMS))
    spiking: bool = False   # spiking-MLP ViTs: the spike has no parameters, so the same tensors
    family: str = "vit"
    uses_batchnorm: bool = False

    @classmethod
    def for_dataset(cls, ds, spiking: bool = False) -> "ViTLayout":
        c, size = ds.input_shape[0], ds.input_shape[1]
        dims, depths = vit_axes(size)
        dim = max(dims)
        return cls(in_channels=c, image_size=size, num_classes=max(2, ds.num_classes), patch_sizes=patch_sizes(size),
                   spiking=spiking, dim=dim, depth=max(depths),
                   mlp_hidden=max(1, int(round(dim * max(VIT_MLP_RATIOS)))),
                   rank=low_rank_dim(max(r for r in VIT_LOW_RANK if r < 1.0), dim, 3 * dim))

    def parameters(self) -> dict[str, tuple]:
        """role -> (shape, init): init is normal (std 0.02, as ViTs are initialised), zeros or ones."""
        d, h, r, c = self.dim, self.mlp_hidden, self.rank, self.in_channels
        out: dict[str, tuple] = {}
        for p in self.patch_sizes:
            out[f"patch:{p}:w"] = ((d, c, p, p), "normal")
            out[f"patch:{p}:b"] = ((d,), "zeros")
            out[f"pos:{p}"] = (((self.image_size // p) ** 2, d), "normal")
        for i in range(self.depth):
            for ln in ("ln1", "ln2"):
                out[f"blocks:{i}:{ln}:w"], out[f"blocks:{i}:{ln}:b"] = ((d,), "ones"), ((d,), "zeros")
            out.update(linear_roles(f"blocks:{i}:qkv", d, d, r, groups=3))
            out.update(linear_roles(f"blocks:{i}:proj", d, d, r))
            out.update(linear_roles(f"blocks:{i}:fc1", d, h, r))
            out.update(linear_roles(f"blocks:{i}:fc2", h, d, r))
        out["norm:w"], out["norm:b"] = ((d,), "ones"), ((d,), "zeros")
        out["head:w"], out["head:b"] = ((self.num_classes, d), "normal"), ((self.num_classes,), "zeros")
        return out

    def statistics(self) -> dict[str, tuple]:
        return {}  # no BatchNorm in the ViT

    def check(self, spec) -> None:
        if not isinstance(spec, ViTSpec):
            raise UserError(f"the ViT supernet cannot hold a {spec.family} spec; use a {spec.family} supernet")
        if (spec.in_channels, spec.image_size) != (self.in_channels, self.image_size) \
                or spec.num_classes != self.num_classes:
            raise UserError(f"spec input {spec.in_channels}x{spec.image_size}x{spec.image_size}, "
                            f"{spec.num_classes} classes does not match the supernet's {self.in_channels}x"
                            f"{self.image_size}x{self.image_size}, {self.num_classes} classes")
        if spec.spiking_mlp != self.spiking:
            raise UserError(f"spec spiking_mlp={spec.spiking_mlp} but the supernet was trained with "
                            f"spiking_mlp={self.spiking}")
        over = [f"{name} {got} > {cap}" for name, got, cap in (
            ("dim", spec.dim, self.dim), ("depth", spec.depth, self.depth),
            ("mlp hidden", spec.mlp_hidden, self.mlp_hidden))
            if got > cap]
        if spec.patch_size not in self.patch_sizes:
            over.append(f"patch_size {spec.patch_size} not in {self.patch_sizes}")
        if spec.low_rank_ratio < 1.0 and low_rank_dim(spec.low_rank_ratio, spec.dim, 3 * spec.dim) > self.rank:
            over.append(f"low-rank width > {self.rank}")
        if over:
            raise UserError(f"spec is outside the ViT supernet ({', '.join(over)}); search within nas/space.py's axes")

    def state(self, get: Get, spec: ViTSpec, device) -> dict[str, torch.Tensor]:
        """Every parameter and buffer of `build(spec)`, by its state_dict key, sliced from `get(role)`."""
        d, h, p, ratio = spec.dim, spec.mlp_hidden, spec.patch_size, spec.low_rank_ratio
        out = {"patch.weight": get(f"patch:{p}:w")[:d], "patch.bias": get(f"patch:{p}:b")[:d],
               "pos": get(f"pos:{p}")[:, :d]}
        for i in range(spec.depth):
            k, role = f"blocks.{i}", f"blocks:{i}"
            for ln in ("ln1", "ln2"):
                out[f"{k}.{ln}.weight"], out[f"{k}.{ln}.bias"] = get(f"{role}:{ln}:w")[:d], get(f"{role}:{ln}:b")[:d]
            out.update(linear_state(get, f"{role}:qkv", f"{k}.attn.qkv", d, d, ratio, groups=3))
            out.update(linear_state(get, f"{role}:proj", f"{k}.attn.proj", d, d, ratio))
            out.update(linear_state(get, f"{role}:fc1", f"{k}.mlp.fc1", d, h, ratio))
            out.update(linear_state(get, f"{role}:fc2", f"{k}.mlp.fc2", h, d, ratio))
        out["norm.weight"], out["norm.bias"] = get("norm:w")[:d], get("norm:b")[:d]
        out["head.weight"], out["head.bias"] = get("head:w")[:, :d], get("head:b")
        return out
