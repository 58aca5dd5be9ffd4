"""MCUFormer-style vision transformer built from a ViTSpec.

Attention is written as explicit reshape / transpose / matmul / softmax (no
fused SDPA) so the ONNX graph holds only ops the exporter lowers one by one.
Reshapes use the spec's static sizes and -1 for the batch, so the export has
constant shapes and no Shape/Gather chains.
"""
from __future__ import annotations

import torch
from torch import nn

from edgeformer.models.lif import Spike
from edgeformer.specs import ViTSpec, low_rank_dim


class LowRankLinear(nn.Module):
    """d_in -> r (no bias) -> d_out: the factorised form of a block linear."""

    def __init__(self, d_in: int, d_out: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(d_in, rank, bias=False)
        self.up = nn.Linear(rank, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


def block_linear(d_in: int, d_out: int, ratio: float) -> nn.Module:
    """Dense Linear at ratio 1.0, else LowRankLinear with r = low_rank_dim(ratio, d_in, d_out)."""
    if ratio >= 1.0:
        return nn.Linear(d_in, d_out)
    return LowRankLinear(d_in, d_out, low_rank_dim(ratio, d_in, d_out))


class Attention(nn.Module):
    """Multi-head self-attention; qkv is one d -> 3d linear, q/k/v split in that order."""

    def __init__(self, spec: ViTSpec) -> None:
        super().__init__()
        self.tokens, self.dim, self.heads = spec.tokens, spec.dim, spec.heads
        self.head_dim = spec.dim // spec.heads
        self.scale = self.head_dim ** -0.5
        self.qkv = block_linear(spec.dim, 3 * spec.dim, spec.low_rank_ratio)
        self.proj = block_linear(spec.dim, spec.dim, spec.low_rank_ratio)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        # B x N x D -> B x H x N x hd
        return t.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv, d = self.qkv(x), self.dim
        # Static slices (not chunk) keep Shape/Gather out of the exported graph.
        q, k, v = (self._heads(qkv[..., i * d:(i + 1) * d]) for i in range(3))
        attn = torch.softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(-1, self.tokens, self.dim)
        return self.proj(out)


class MLP(nn.Module):
    def __init__(self, spec: ViTSpec) -> None:
        super().__init__()
        self.fc1 = block_linear(spec.dim, spec.mlp_hidden, spec.low_rank_ratio)
        if spec.spiking_mlp:
            self.act = Spike(spec.lif_threshold)
        else:
            self.act = nn.GELU() if spec.activation == "gelu" else nn.ReLU()
        self.fc2 = block_linear(spec.mlp_hidden, spec.dim, spec.low_rank_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN: x += attn(LN1 x); x += mlp(LN2 x)."""

    def __init__(self, spec: ViTSpec) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(spec.dim)
        self.attn = Attention(spec)
        self.ln2 = nn.LayerNorm(spec.dim)
        self.mlp = MLP(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """N x C x H x W images -> N x num_classes logits."""

    def __init__(self, spec: ViTSpec) -> None:
        super().__init__()
        self.spec = spec
        self.patch = nn.Conv2d(spec.in_channels, spec.dim, spec.patch_size, stride=spec.patch_size)
        self.pos = nn.Parameter(torch.zeros(spec.tokens, spec.dim))  # no cls token
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(spec.dim)
        self.head = nn.Linear(spec.dim, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.spec
        x = self.patch(x).reshape(-1, s.dim, s.tokens).transpose(1, 2) + self.pos  # B x N x D
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x).mean(dim=1))
