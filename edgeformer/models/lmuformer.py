"""LMUFormer built from an LMUFormerSpec: whole-sequence and streaming forms.

Activations are B x T x C throughout (time on axis 1). 1x1 convolutions are
written as nn.Linear over the channel axis (the same map; Gemm/MatMul in ONNX).
Every stateful part has `state_shapes()` (per-sample shapes, no batch axis)
and `step(x_t, state) -> (y_t, new_state)` with `state` a list in that order;
the model concatenates them into one flat tuple (see `LMUFormer.state_names`).

In eval mode BatchNorm is a per-channel affine map, so `step` applied T times
gives the same logits as `forward` on the whole sequence.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeformer.models.lif import LIF
from edgeformer.models.lmu import LMU
from edgeformer.specs import LMUFormerSpec


def _bn_seq(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over B x T x C (statistics over batch and time in training)."""
    return bn(x.transpose(1, 2)).transpose(1, 2)


class _Act(nn.Module):
    """GELU (stateless) or a multi-step LIF (state v, s) behind one step interface."""

    def __init__(self, channels: int, spec: LMUFormerSpec) -> None:
        super().__init__()
        self.fn = LIF(channels, spec.lif_threshold, spec.lif_leak) if spec.spiking else nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def state_shapes(self):
        return self.fn.state_shapes() if isinstance(self.fn, LIF) else []

    def step(self, x_t: torch.Tensor, state: list):
        if isinstance(self.fn, LIF):
            s, v = self.fn.step(x_t, state[0], state[1])
            return s, [v, s]
        return self.fn(x_t), []


class CausalConv(nn.Module):
    """Conv1d, stride 1, left padding kernel-1: output t sees inputs t-k+1..t only."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.c_in, self.kernel = c_in, kernel
        self.conv = nn.Conv1d(c_in, c_out, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.pad(x.transpose(1, 2), (self.kernel - 1, 0)))
        return y.transpose(1, 2)

    def state_shapes(self):
        # The last kernel-1 inputs, oldest first.
        return [("conv_buf", (self.kernel - 1, self.c_in))] if self.kernel > 1 else []

    def step(self, x_t: torch.Tensor, state: list):
        window = x_t.unsqueeze(1)
        if self.kernel > 1:
            window = torch.cat([state[0], window], dim=1)  # B x k x C_in
        # Conv weight (C_out, C_in, k) reordered to match the window flattened time-major.
        w = self.conv.weight.permute(0, 2, 1).reshape(self.conv.out_channels, -1)
        y = F.linear(window.reshape(-1, self.kernel * self.c_in), w, self.conv.bias)
        return y, ([window[:, 1:]] if self.kernel > 1 else [])


class PatchStage(nn.Module):
    """Causal conv -> BatchNorm -> GELU or LIF."""

    def __init__(self, c_in: int, c_out: int, spec: LMUFormerSpec) -> None:
        super().__init__()
        self.conv = CausalConv(c_in, c_out, spec.patch_kernel)
        self.bn = nn.BatchNorm1d(c_out)
        self.act = _Act(c_out, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(_bn_seq(self.bn, self.conv(x)))

    def state_shapes(self):
        return self.conv.state_shapes() + self.act.state_shapes()

    def step(self, x_t: torch.Tensor, state: list):
        n = len(self.conv.state_shapes())
        y, s_conv = self.conv.step(x_t, state[:n])
        y, s_act = self.act.step(self.bn(y), state[n:])
        return y, s_conv + s_act


class Block(nn.Module):
    """x += LMU(x); x += BN(fc2(act(BN(fc1(x))))), fc1/fc2 being 1x1 convs."""

    def __init__(self, spec: LMUFormerSpec) -> None:
        super().__init__()
        d, mh = spec.dim, spec.mlp_hidden
        self.lmu = LMU(d, spec.memory_inputs, spec.memory_order, spec.theta, spec.hidden, spec.seq_len)
        self.fc1, self.bn1 = nn.Linear(d, mh), nn.BatchNorm1d(mh)
        self.act = _Act(mh, spec)
        self.fc2, self.bn2 = nn.Linear(mh, d), nn.BatchNorm1d(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.lmu(x)
        h = self.act(_bn_seq(self.bn1, self.fc1(x)))
        return x + _bn_seq(self.bn2, self.fc2(h))

    def state_shapes(self):
        return self.lmu.state_shapes() + self.act.state_shapes()

    def step(self, x_t: torch.Tensor, state: list):
        y, m = self.lmu.step(x_t, state[0])
        x = x_t + y
        h, s_act = self.act.step(self.bn1(self.fc1(x)), state[1:])
        return x + self.bn2(self.fc2(h)), [m] + s_act


class LMUFormer(nn.Module):
    """B x T x F sequences -> B x num_classes logits (mean over time, linear head)."""

    def __init__(self, spec: LMUFormerSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = (spec.in_features,) + spec.patch_channels
        self.patch = nn.ModuleList(PatchStage(a, b, spec) for a, b in zip(widths, widths[1:]))
        last = spec.patch_channels[-1]
        self.proj = nn.Linear(last, spec.dim) if last != spec.dim else None
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.head = nn.Linear(spec.dim, spec.num_classes)

    def _stateful(self):
        return [(f"patch{i}", m) for i, m in enumerate(self.patch)] + \
               [(f"block{i}", m) for i, m in enumerate(self.blocks)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """B x T x F -> B x T x dim (before pooling)."""
        for stage in self.patch:
            x = stage(x)
        if self.proj is not None:
            x = self.proj(x)
        for blk in self.blocks:
            x = blk(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=1))

    # --- streaming -------------------------------------------------------
    def state_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, per-sample shape) of each state tensor, in the order of the flat state tuple."""
        out = [(f"{prefix}.{name}", shape) for prefix, m in self._stateful() for name, shape in m.state_shapes()]
        return out + [("pool_sum", (self.spec.dim,)), ("pool_count", (1,))]

    def state_names(self) -> list[str]:
        return [name for name, _ in self.state_shapes()]

    def init_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        dev = self.head.weight.device
        return tuple(torch.zeros((batch,) + shape, device=dev) for _, shape in self.state_shapes())

    def step(self, x_t: torch.Tensor, state):
        """One time step: x_t (B x F), flat state -> (logits of the mean so far, new state)."""
        state = list(state)
        new, pos = [], 0

        def advance(module, h):
            nonlocal pos
            n = len(module.state_shapes())
            h, s = module.step(h, state[pos:pos + n])
            new.extend(s)
            pos += n
            return h

        h = x_t
        for stage in self.patch:
            h = advance(stage, h)
        if self.proj is not None:
            h = self.proj(h)
        for blk in self.blocks:
            h = advance(blk, h)
        total, count = state[pos] + h, state[pos + 1] + 1.0
        return self.head(total / count), tuple(new + [total, count])


class StreamingStep(nn.Module):
    """`LMUFormer.step` with the state as explicit inputs/outputs, for ONNX export.

    forward(x_t, *state) -> (logits, *new_state); names: `model.state_names()`.
    """

    def __init__(self, model: LMUFormer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x_t: torch.Tensor, *state: torch.Tensor):
        logits, new = self.model.step(x_t, state)
        return (logits,) + new
