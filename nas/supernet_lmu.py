"""LMUFormer supernet layout (plain and spiking): the largest tensor per role, and the slicing.

A sub-network uses the first channels of every width (patch stages, dim, LMU hidden, memory
inputs, Legendre order, MLP hidden) and the first `depth` blocks. A causal patch conv of
kernel k uses the LAST k taps of the widest kernel: those weigh the most recent inputs, the
taps every kernel size has in common. The LMU readout W_h is kept as a (hidden, inputs,
order) memory part plus a (hidden, dim) input part, so the first `order` Legendre
coefficients of each memory input slice to the channel-major [m ; x] layout of
`edgeformer.models.lmu`. The projection after the patch stages exists per patch-stage count
(its input is a different stage's output). LIF threshold and leak, and theta, are not
weights: they come from the spec at run time (theta through the LMU's fixed matrices).
BatchNorm statistics are buffers here and are recalibrated per sub-network before use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from edgeformer.errors import UserError
from edgeformer.models.lmu import LMU
from edgeformer.nas.space import (LMU_DEPTHS, LMU_DIMS, LMU_HIDDEN, LMU_MEMORY_INPUTS, LMU_MLP_RATIOS, LMU_ORDERS,
                                  LMU_PATCH_KERNELS, LMU_PATCH_LAYERS, LMU_PATCH_WIDTHS)
from edgeformer.specs import LMUFormerSpec

Get = Callable[[str], torch.Tensor]
PATCH_LAYERS = max(LMU_PATCH_LAYERS)  # the space's most patch stages


def _bn_roles(role: str, c: int) -> dict[str, tuple]:
    return {f"{role}:mean": ((c,), "zeros"), f"{role}:var": ((c,), "ones"), f"{role}:n": ((), "count")}


def _bn_state(get: Get, role: str, key: str, c: int) -> dict[str, torch.Tensor]:
    return {f"{key}.weight": get(f"{role}:w")[:c], f"{key}.bias": get(f"{role}:b")[:c],
            f"{key}.running_mean": get(f"{role}:mean")[:c], f"{key}.running_var": get(f"{role}:var")[:c],
            f"{key}.num_batches_tracked": get(f"{role}:n")}


class _LegendreCache:
    """The LMU's fixed matrices per (order, theta, seq_len, device), taken from the model's own LMU."""

    def __init__(self) -> None:
        self._m: dict[tuple, dict[str, torch.Tensor]] = {}

    def __call__(self, order: int, theta: float, seq_len: int, device) -> dict[str, torch.Tensor]:
        key = (order, float(theta), seq_len, str(device))
        if key not in self._m:
            lmu = LMU(1, 1, order, theta, 1, seq_len)
            self._m[key] = {n: b.to(device) for n, b in lmu.named_buffers()}
        return self._m[key]


@dataclass(frozen=True)
class LMUFormerLayout:
    in_features: int
    seq_len: int
    num_classes: int
    spiking: bool
    widths: int = max(LMU_PATCH_WIDTHS)
    kernel: int = max(LMU_PATCH_KERNELS)
    dim: int = max(LMU_DIMS)
    order: int = max(LMU_ORDERS)
    memory_inputs: int = max(LMU_MEMORY_INPUTS)
    hidden: int = max(LMU_HIDDEN)
    mlp_hidden: int = max(1, int(round(max(LMU_DIMS) * max(LMU_MLP_RATIOS))))
    depth: int = max(LMU_DEPTHS)
    family: str = "lmuformer"
    uses_batchnorm: bool = True
    legendre: _LegendreCache = field(default_factory=_LegendreCache, compare=False, repr=False)

    @classmethod
    def for_dataset(cls, ds, spiking: bool) -> "LMUFormerLayout":
        seq_len, feats = ds.input_shape
        return cls(in_features=feats, seq_len=seq_len, num_classes=max(2, ds.num_classes), spiking=spiking)

    def parameters(self) -> dict[str, tuple]:
        w, d, o, mi, hd, mh = self.widths, self.dim, self.order, self.memory_inputs, self.hidden, self.mlp_hidden
        out: dict[str, tuple] = {}
        for i in range(PATCH_LAYERS):
            c_in = self.in_features if i == 0 else w
            out[f"patch:{i}:w"], out[f"patch:{i}:b"] = ((w, c_in, self.kernel), "normal"), ((w,), "zeros")
            out[f"patch:{i}:bn:w"], out[f"patch:{i}:bn:b"] = ((w,), "ones"), ((w,), "zeros")
        for n in range(1, PATCH_LAYERS + 1):
            out[f"proj:{n}:w"], out[f"proj:{n}:b"] = ((d, w), "normal"), ((d,), "zeros")
        for j in range(self.depth):
            r = f"blocks:{j}"
            out[f"{r}:wu:w"], out[f"{r}:wu:b"] = ((mi, d), "normal"), ((mi,), "zeros")
            out[f"{r}:wh:mem"], out[f"{r}:wh:x"] = ((hd, mi, o), "normal"), ((hd, d), "normal")
            out[f"{r}:wh:b"] = ((hd,), "zeros")
            out[f"{r}:wo:w"], out[f"{r}:wo:b"] = ((d, hd), "normal"), ((d,), "zeros")
            out[f"{r}:fc1:w"], out[f"{r}:fc1:b"] = ((mh, d), "normal"), ((mh,), "zeros")
            out[f"{r}:fc2:w"], out[f"{r}:fc2:b"] = ((d, mh), "normal"), ((d,), "zeros")
            for bn, c in (("bn1", mh), ("bn2", d)):
                out[f"{r}:{bn}:w"], out[f"{r}:{bn}:b"] = ((c,), "ones"), ((c,), "zeros")
        out["head:w"], out["head:b"] = ((self.num_classes, d), "normal"), ((self.num_classes,), "zeros")
        return out

    def statistics(self) -> dict[str, tuple]:
        """BatchNorm running statistics (buffers, not trained)."""
        out: dict[str, tuple] = {}
        for i in range(PATCH_LAYERS):
            out.update(_bn_roles(f"patch:{i}:bn", self.widths))
        for j in range(self.depth):
            out.update(_bn_roles(f"blocks:{j}:bn1", self.mlp_hidden))
            out.update(_bn_roles(f"blocks:{j}:bn2", self.dim))
        return out

    def check(self, spec) -> None:
        if not isinstance(spec, LMUFormerSpec):
            raise UserError(f"the LMUFormer supernet cannot hold a {spec.family} spec; use a {spec.family} supernet")
        if (spec.in_features, spec.seq_len, spec.num_classes) != (self.in_features, self.seq_len, self.num_classes):
            raise UserError(f"spec input {spec.seq_len}x{spec.in_features}, {spec.num_classes} classes does not match "
                            f"the supernet's {self.seq_len}x{self.in_features}, {self.num_classes} classes")
        if spec.spiking != self.spiking:
            raise UserError(f"spec spiking={spec.spiking} but the supernet was trained with spiking={self.spiking}")
        caps = [("patch stages", len(spec.patch_channels), PATCH_LAYERS), ("patch width", max(spec.patch_channels),
                self.widths), ("patch_kernel", spec.patch_kernel, self.kernel), ("dim", spec.dim, self.dim),
                ("memory_order", spec.memory_order, self.order), ("memory_inputs", spec.memory_inputs,
                self.memory_inputs), ("hidden", spec.hidden, self.hidden), ("mlp hidden", spec.mlp_hidden,
                self.mlp_hidden), ("depth", spec.depth, self.depth)]
        over = [f"{name} {got} > {cap}" for name, got, cap in caps if got > cap]
        if over:
            raise UserError(f"spec is outside the LMUFormer supernet ({', '.join(over)}); "
                            "search within nas/space.py's axes")

    def state(self, get: Get, spec: LMUFormerSpec, device) -> dict[str, torch.Tensor]:
        """Every parameter and buffer of `build(spec)` (the LMU's fixed matrices too), by state_dict key."""
        k = spec.patch_kernel
        widths = (spec.in_features,) + spec.patch_channels
        out: dict[str, torch.Tensor] = {}
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            out[f"patch.{i}.conv.conv.weight"] = get(f"patch:{i}:w")[:c_out, :c_in, self.kernel - k:]
            out[f"patch.{i}.conv.conv.bias"] = get(f"patch:{i}:b")[:c_out]
            out.update(_bn_state(get, f"patch:{i}:bn", f"patch.{i}.bn", c_out))
        d, last, n = spec.dim, widths[-1], len(spec.patch_channels)
        if last != d:
            out["proj.weight"], out["proj.bias"] = get(f"proj:{n}:w")[:d, :last], get(f"proj:{n}:b")[:d]
        mi, o, hd, mh = spec.memory_inputs, spec.memory_order, spec.hidden, spec.mlp_hidden
        fixed = self.legendre(o, spec.theta, spec.seq_len, device)
        for j in range(spec.depth):
            r, key = f"blocks:{j}", f"blocks.{j}"
            out[f"{key}.lmu.w_u.weight"], out[f"{key}.lmu.w_u.bias"] = get(f"{r}:wu:w")[:mi, :d], get(f"{r}:wu:b")[:mi]
            mem = get(f"{r}:wh:mem")[:hd, :mi, :o].reshape(hd, mi * o)
            out[f"{key}.lmu.w_h.weight"] = torch.cat([mem, get(f"{r}:wh:x")[:hd, :d]], dim=1)
            out[f"{key}.lmu.w_h.bias"] = get(f"{r}:wh:b")[:hd]
            if hd != d:
                out[f"{key}.lmu.w_o.weight"], out[f"{key}.lmu.w_o.bias"] = get(f"{r}:wo:w")[:d, :hd], get(f"{r}:wo:b")[:d]
            for name, t in fixed.items():
                out[f"{key}.lmu.{name}"] = t
            out[f"{key}.fc1.weight"], out[f"{key}.fc1.bias"] = get(f"{r}:fc1:w")[:mh, :d], get(f"{r}:fc1:b")[:mh]
            out.update(_bn_state(get, f"{r}:bn1", f"{key}.bn1", mh))
            out[f"{key}.fc2.weight"], out[f"{key}.fc2.bias"] = get(f"{r}:fc2:w")[:d, :mh], get(f"{r}:fc2:b")[:d]
            out.update(_bn_state(get, f"{r}:bn2", f"{key}.bn2", d))
        out["head.weight"], out["head.bias"] = get("head:w")[:, :d], get("head:b")
        return out
