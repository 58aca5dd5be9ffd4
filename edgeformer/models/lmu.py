"""Legendre Memory Unit (Voelker et al. 2019), LMU-FFT / LMUFormer style.

The memory is a linear time-invariant system with no nonlinear recurrence, so
the whole-sequence (parallel) form is an exact causal convolution of the
memory input with the impulse response H[k] = Ad^k Bd, and the streaming form
is the recurrence m_t = Ad m_{t-1} + Bd u_t. Both are computed here and must
agree; the matrices are derived in float64 and stored as float32 buffers
(non-persistent: they follow from the spec, so checkpoints do not carry them).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from torch import nn

from edgeformer.errors import UserError


def legendre_state_space(order: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous (A, B) of the Legendre delay system, float64: A is order x order, B is (order,)."""
    i = np.arange(order)[:, None]
    j = np.arange(order)[None, :]
    sign = np.where(i < j, -1.0, (-1.0) ** (i - j + 1))
    a = (2 * i + 1) / theta * sign
    b = (2 * np.arange(order) + 1) * (-1.0) ** np.arange(order) / theta
    return a, b


def discretise_zoh(a: np.ndarray, b: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order hold: expm([[A, B], [0, 0]] dt) = [[Ad, Bd], [0, 1]]."""
    n = a.shape[0]
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = a
    m[:n, n] = b
    e = scipy.linalg.expm(m * dt)
    return e[:n, :n], e[:n, n]


def impulse_response(ad: np.ndarray, bd: np.ndarray, steps: int) -> np.ndarray:
    """H[k] = Ad^k Bd for k = 0..steps-1, float64, steps x order."""
    h = np.empty((steps, ad.shape[0]))
    h[0] = bd
    for k in range(1, steps):
        h[k] = ad @ h[k - 1]
    return h


class LMU(nn.Module):
    """LMU token mixer on B x T x dim.

        u_t = W_u x_t + b_u                         (memory_inputs channels)
        m_t = Ad m_{t-1} + Bd u_t                   (per channel; state memory_inputs x order)
        h_t = GELU(W_h [m_t ; x_t] + b_h)           (hidden)
        y_t = W_o h_t + b_o   if hidden != dim, else h_t

    The memory is flattened channel-major into W_h's input: index i*order + j.
    `forward` handles any T <= seq_len (the Toeplitz kernel is built for seq_len).
    """

    def __init__(self, dim: int, memory_inputs: int, order: int, theta: float,
                 hidden: int, seq_len: int) -> None:
        super().__init__()
        self.dim, self.memory_inputs, self.order = dim, memory_inputs, order
        self.hidden, self.seq_len = hidden, seq_len
        a, b = legendre_state_space(order, theta)
        ad, bd = discretise_zoh(a, b)
        h = impulse_response(ad, bd, seq_len)
        # kernel[t, j, s] = H[t - s, j] for s <= t, else 0: the causal Toeplitz matrix per memory row.
        lag = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]
        kernel = np.where(lag[:, None, :] >= 0, h[np.clip(lag, 0, None)].transpose(0, 2, 1), 0.0)
        f32 = torch.float32
        self.register_buffer("ad_t", torch.tensor(ad.T, dtype=f32), persistent=False)  # (order, order), Ad^T
        self.register_buffer("bd", torch.tensor(bd, dtype=f32), persistent=False)  # (order,)
        self.register_buffer("kernel", torch.tensor(kernel, dtype=f32), persistent=False)  # (T, order, T)
        self.w_u = nn.Linear(dim, memory_inputs)
        self.w_h = nn.Linear(memory_inputs * order + dim, hidden)
        self.act = nn.GELU()
        self.w_o = nn.Linear(hidden, dim) if hidden != dim else None

    def _readout(self, m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.w_h(torch.cat([m, x], dim=-1)))
        return self.w_o(h) if self.w_o is not None else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t > self.seq_len:
            raise UserError(f"LMU: sequence length {t} exceeds the spec's seq_len {self.seq_len}; "
                            f"raise seq_len in the spec")
        u = self.w_u(x).transpose(1, 2)  # B x mi x T
        k = self.kernel[:t, :, :t].reshape(t * self.order, t)
        m = torch.matmul(u, k.t())  # B x mi x (T*order)
        m = m.reshape(-1, self.memory_inputs, t, self.order).transpose(1, 2)
        m = m.reshape(-1, t, self.memory_inputs * self.order)
        return self._readout(m, x)

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.memory_inputs, self.order, device=self.bd.device)

    def step(self, x_t: torch.Tensor, m_prev: torch.Tensor):
        """One step: x_t (B x dim), memory (B x mi x order) -> (y_t, new memory)."""
        u = self.w_u(x_t)  # B x mi
        m = torch.matmul(m_prev, self.ad_t) + u.unsqueeze(-1) * self.bd
        return self._readout(m.reshape(-1, self.memory_inputs * self.order), x_t), m

    def state_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("lmu_m", (self.memory_inputs, self.order))]

