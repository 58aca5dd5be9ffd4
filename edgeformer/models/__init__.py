"""edgeformer.models: build a torch model from a spec; count its parameters and MACs.

MACs are analytic, from the spec alone (the search calls `macs` without
building a model), and count only linear / conv / matmul multiply-accumulates:
no norms, activations, softmax, residual adds or pooling.
"""
from __future__ import annotations

from torch import nn

from edgeformer.errors import UserError
from edgeformer.models.lmuformer import LMUFormer, StreamingStep
from edgeformer.models.vit import ViT
from edgeformer.specs import LMUFormerSpec, Spec, ViTSpec, low_rank_dim

__all__ = ["build", "count_params", "macs", "step_macs", "ViT", "LMUFormer", "StreamingStep"]


def build(spec: Spec) -> nn.Module:
    """The network a spec determines (freshly initialised, train mode)."""
    if isinstance(spec, ViTSpec):
        return ViT(spec)
    if isinstance(spec, LMUFormerSpec):
        return LMUFormer(spec)
    raise UserError(f"cannot build a model from {type(spec).__name__}; known specs: ViTSpec, LMUFormerSpec")


def count_params(model: nn.Module) -> int:
    """All parameters (buffers such as BatchNorm statistics and LMU matrices excluded)."""
    return sum(p.numel() for p in model.parameters())


def _linear_macs(d_in: int, d_out: int, ratio: float) -> int:
    if ratio >= 1.0:
        return d_in * d_out
    r = low_rank_dim(ratio, d_in, d_out)
    return d_in * r + r * d_out


def _vit_macs(s: ViTSpec) -> int:
    n, d, mh, r = s.tokens, s.dim, s.mlp_hidden, s.low_rank_ratio
    patch = n * d * s.in_channels * s.patch_size ** 2
    per_block = n * (_linear_macs(d, 3 * d, r) + _linear_macs(d, d, r)
                     + _linear_macs(d, mh, r) + _linear_macs(mh, d, r))
    per_block += 2 * n * n * d  # QK^T and AV over all heads
    return patch + s.depth * per_block + d * s.num_classes


def step_macs(s: LMUFormerSpec) -> int:
    """MACs of one streaming step of an LMUFormer, head included (every step emits logits).

    Per block the LMU memory update counts Ad m (order^2 per memory input) and
    Bd u (order per memory input).
    """
    widths = (s.in_features,) + s.patch_channels
    total = sum(a * b * s.patch_kernel for a, b in zip(widths, widths[1:]))
    if widths[-1] != s.dim:
        total += widths[-1] * s.dim
    mi, o = s.memory_inputs, s.memory_order
    lmu = s.dim * mi + mi * (o * o + o) + (mi * o + s.dim) * s.hidden
    lmu += s.hidden * s.dim if s.hidden != s.dim else 0
    total += s.depth * (lmu + 2 * s.dim * s.mlp_hidden)
    return total + s.dim * s.num_classes


def macs(spec: Spec) -> int:
    """MACs for one sample.

    ViT: one image. LMUFormer: one whole sequence run by the streaming form,
    i.e. `step_macs(spec) * spec.seq_len` (what the MCU executes; the parallel
    Toeplitz form used in training costs more and is not counted).
    """
    if isinstance(spec, ViTSpec):
        return _vit_macs(spec)
    if isinstance(spec, LMUFormerSpec):
        return step_macs(spec) * spec.seq_len
    raise UserError(f"cannot count MACs of {type(spec).__name__}; known specs: ViTSpec, LMUFormerSpec")
