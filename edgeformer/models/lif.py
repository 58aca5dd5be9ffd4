"""Leaky integrate-and-fire neurons with a surrogate gradient.

Forward is a hard threshold (exports as Greater + Cast); backward uses the
derivative of an arctan curve, so spiking layers train with plain backprop.

Multi-step tensors are laid out B x T x C (time on axis 1), the same layout as
the LMUFormer activations; the single-step form works on B x C with explicit
state, which is what the streaming model and the MCU run.
"""
from __future__ import annotations

import math

import torch
from torch import nn

SURROGATE_ALPHA = 2.0  # width of the arctan surrogate: grad = a/2 / (1 + (pi/2 a x)^2)


class _Spike(torch.autograd.Function):
    """Heaviside(x - threshold) forward, arctan surrogate backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        a = SURROGATE_ALPHA
        z = (math.pi / 2 * a) * (x - ctx.threshold)
        return grad * (a / 2) / (1 + z * z), None


def spike(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """1.0 where x > threshold, else 0.0 (strictly greater: x == threshold does not fire)."""
    return _Spike.apply(x, threshold)


class Spike(nn.Module):
    """Single-step, stateless LIF (no membrane carried over): the ViT spiking-MLP activation."""

    def __init__(self, threshold: float = 1.0) -> None:
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spike(x, self.threshold)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class LIF(nn.Module):
    """Multi-step LIF with hard reset.

        v_t = leak * v_{t-1} * (1 - s_{t-1}) + x_t
        s_t = Heaviside(v_t - threshold)

    `forward(x)` takes B x T x C and starts from v = s = 0; `step` is one time
    step with the state (v, s), each B x C. `forward` is `step` in a loop, so
    the two forms agree bit for bit.
    """

    def __init__(self, channels: int, threshold: float = 1.0, leak: float = 0.5) -> None:
        super().__init__()
        self.channels = channels
        self.threshold = float(threshold)
        self.leak = float(leak)

    def step(self, x_t: torch.Tensor, v_prev: torch.Tensor, s_prev: torch.Tensor):
        """One time step: (x_t, v_{t-1}, s_{t-1}) -> (s_t, v_t)."""
        v = self.leak * v_prev * (1.0 - s_prev) + x_t
        return spike(v, self.threshold), v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x[:, 0])
        s = torch.zeros_like(v)
        out = []
        for t in range(x.shape[1]):
            s, v = self.step(x[:, t], v, s)
            out.append(s)
        return torch.stack(out, dim=1)

    def state_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Per-sample state (no batch axis): membrane and last spikes."""
        return [("lif_v", (self.channels,)), ("lif_s", (self.channels,))]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, threshold={self.threshold}, leak={self.leak}"
