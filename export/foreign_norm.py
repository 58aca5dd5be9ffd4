"""Normalisations that exporters spell with an op the native backend has no kernel for,
rewritten into LayerNormalization, which it has (export/foreign_rewrite.py runs the rules):

- `instance_norm_layernorm`: InstanceNormalization(x (N, C, *S), scale (C), bias (C)) ->
  LayerNormalization(x, ones(1), axis=2) * scale[C, 1, ...] + bias[C, 1, ...]. The same
  statistics (mean and biased variance over the spatial axes, per sample and channel, the same
  epsilon inside the square root); the per-channel affine moves out of the normalisation.
  Both of torch's exporters write nn.GroupNorm this way (Reshape to (N, G, -1),
  InstanceNormalization with unit scale, Reshape back, Mul, Add), so this also covers
  GroupNorm (Wav2Vec2 / HuBERT's feature extractor, ConvNeXt-V1 style GroupNorm(1, C)).

Each rule is `(model) -> int` like the rules of export/foreign_rewrite.py.
"""
from __future__ import annotations

import numpy as np


def instance_norm_layernorm(model) -> int:
    import onnx
    from edgeformer.export.foreign_rewrite import _G, _const_name, _shape, _splice
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "InstanceNormalization" and n.domain in ("", "ai.onnx")]:
        shape = _shape(G, n.input[0])
        scale, bias = G.const(n.input[1]), G.const(n.input[2])
        if shape is None or len(shape) < 3 or scale is None or bias is None:
            continue
        c = shape[1]
        if scale.size != c or bias.size != c:
            continue
        eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
        base = n.name or n.output[0]
        per_c = (c,) + (1,) * (len(shape) - 2)
        one = _const_name(G, f"{base}/unit_scale", np.ones(1, np.float32))
        new = [onnx.helper.make_node("LayerNormalization", [n.input[0], one], [f"{base}/normed"],
                                     name=f"{base}/LayerNorm", axis=2, epsilon=eps)]
        cur = f"{base}/normed"
        if not np.all(scale == 1):
            s = _const_name(G, f"{base}/scale_c", scale.astype(np.float32).reshape(per_c))
            new.append(onnx.helper.make_node("Mul", [cur, s], [f"{base}/scaled"], name=f"{base}/Mul"))
            cur = f"{base}/scaled"
        if np.any(bias != 0):
            b = _const_name(G, f"{base}/bias_c", bias.astype(np.float32).reshape(per_c))
            new.append(onnx.helper.make_node("Add", [cur, b], [f"{base}/shifted"], name=f"{base}/Add"))
            cur = f"{base}/shifted"
        new[-1].output[0] = n.output[0]
        _splice(G, n, new)
        count += 1
    return count
