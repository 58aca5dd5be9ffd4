"""Pad in the modes the native backend's Pad has no kernel for (reflect, edge, wrap), rewritten
into Gathers of constant positions along each padded axis (export/foreign_rewrite.py runs the
rule): `pad_modes`.

For an axis of length n padded by (lo, hi) (negative: cropped), output position j in
[-lo, n + hi) reads input position
    reflect  j reflected at 0 and n - 1 (period 2(n - 1); F.pad(mode="reflect"))
    edge     clip(j, 0, n - 1)                             (mode="replicate")
    wrap     j mod n, over the axis left after negative pads (mode="circular", opset 19)
which is exact (a copy), one Gather per padded axis. Audio front ends and vocoders pad this
way before their convolutions.

The rule is `(model) -> int` like the rules of export/foreign_rewrite.py.
"""
from __future__ import annotations

import numpy as np


def pad_positions(n: int, lo: int, hi: int, mode: str) -> np.ndarray | None:
    """Input positions read by the padded axis, or None where the mode cannot pad n by (lo, hi)."""
    j = np.arange(-lo, n + hi)
    if mode == "edge":
        return np.clip(j, 0, n - 1)
    if mode == "wrap":      # a negative pad crops first; the wrap is over what is left
        start, m = max(0, -lo), n - max(0, -lo) - max(0, -hi)
        return start + np.mod(np.arange(-max(lo, 0), m + max(hi, 0)), m) if m > 0 else None
    if mode == "reflect":
        if n == 1:       # onnxruntime repeats the one element
            return np.zeros_like(j)
        period = 2 * (n - 1)
        k = np.mod(j, period)
        return np.where(k < n, k, period - k)
    return None


def pad_modes(model) -> int:
    import onnx
    from edgeformer.export.foreign_rewrite import _G, _const_name, _shape, _splice
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "Pad" and n.domain in ("", "ai.onnx")]:
        mode = next((onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "mode"), b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        shape = _shape(G, n.input[0])
        pads = G.const(n.input[1]) if len(n.input) > 1 and n.input[1] else None
        if mode == "constant" or shape is None or pads is None:
            continue
        rank = len(shape)
        axes = G.const(n.input[3]) if len(n.input) > 3 and n.input[3] else np.arange(rank)
        if axes is None:
            continue
        axes = [int(a) % rank for a in axes.reshape(-1)]
        pads = pads.reshape(-1).astype(np.int64)
        maps = []
        for k, ax in enumerate(axes):
            lo, hi = int(pads[k]), int(pads[k + len(axes)])
            if lo == 0 and hi == 0:
                continue
            pos = pad_positions(shape[ax], lo, hi, mode)
            if pos is None:
                break
            maps.append((ax, pos))
        else:
            base = n.name or n.output[0]
            cur, new = n.input[0], []
            for k, (ax, pos) in enumerate(maps):
                out = n.output[0] if k == len(maps) - 1 else f"{base}/pad{ax}"
                idx = _const_name(G, f"{base}/positions{ax}", pos.astype(np.int64))
                new.append(onnx.helper.make_node("Gather", [cur, idx], [out], name=f"{base}/Gather{ax}", axis=ax))
                cur = out
            if not new:
                new = [onnx.helper.make_node("Identity", [n.input[0]], [n.output[0]], name=f"{base}/Identity")]
            _splice(G, n, new)
            count += 1
    return count
