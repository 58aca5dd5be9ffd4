"""ConvTranspose, which the native backend has no kernel for, rewritten into ops it has
(export/foreign_rewrite.py runs the rule): `conv_transpose_conv`.

A transposed convolution of stride s is a convolution, stride 1, of the input with s - 1
zeros inserted between neighbours, padded by dk - 1 - pad (dk = (k - 1) * dilation + 1; the
end side also gets output_padding), with the kernel flipped in space and its in/out channel
axes swapped per group. The zero insertion is a MatMul by a constant 0/1 matrix per spatial
axis (X @ Z_w, and Z_h^T @ X for the height), as `resize_matmul` does for Resize; a stride of
1 needs none. 1-D and 2-D, any groups, dilations, pads and output_padding; not auto_pad,
output_shape, or pads beyond dk - 1 (they stay ConvTranspose: the loader names the op).

The rule is `(model) -> int` like the rules of export/foreign_rewrite.py.
"""
from __future__ import annotations

import numpy as np


def conv_transpose_conv(model) -> int:
    import onnx
    from edgeformer.export.foreign_rewrite import _G, _const_name, _shape, _splice
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type == "ConvTranspose" and n.domain in ("", "ai.onnx")]:
        shape, w = _shape(G, n.input[0]), G.const(n.input[1])
        bias = n.input[2] if len(n.input) > 2 and n.input[2] else None
        if shape is None or w is None or len(shape) not in (3, 4) or (bias and G.const(bias) is None):
            continue
        at = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        auto = at.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) != "NOTSET" or "output_shape" in at:
            continue
        sp = len(shape) - 2
        k = list(w.shape[2:])
        strides = list(at.get("strides", [1] * sp))
        dil = list(at.get("dilations", [1] * sp))
        pads = list(at.get("pads", [0] * 2 * sp))
        outpad = list(at.get("output_padding", [0] * sp))
        group = int(at.get("group", 1))
        dk = [(k[i] - 1) * dil[i] + 1 for i in range(sp)]
        cpads = [dk[i] - 1 - pads[i] for i in range(sp)] + [dk[i] - 1 - pads[sp + i] + outpad[i] for i in range(sp)]
        if min(cpads) < 0:
            continue
        base = n.name or n.output[0]
        c, mg = w.shape[0], w.shape[1]
        cg = c // group
        wc = w.reshape(group, cg, mg, *k).swapaxes(1, 2).reshape(group * mg, cg, *k)
        wc = np.flip(wc, axis=tuple(range(2, 2 + sp))).astype(w.dtype).copy()
        cur, new = n.input[0], []
        for i in reversed(range(sp)):              # last spatial axis: X @ Z; height: Z^T @ X
            if strides[i] == 1:
                continue
            size = shape[2 + i]
            z = np.zeros((size, (size - 1) * strides[i] + 1), np.float32)
            z[np.arange(size), np.arange(size) * strides[i]] = 1.0
            out = f"{base}/dilated{i}"
            if i == sp - 1:
                ins = [cur, _const_name(G, f"{base}/Z{i}", z)]
            else:
                ins = [_const_name(G, f"{base}/Z{i}", z.T.copy()), cur]
            new.append(onnx.helper.make_node("MatMul", ins, [out], name=f"{base}/MatMul{i}"))
            cur = out
        ins = [cur, _const_name(G, f"{base}/W", wc)] + ([bias] if bias else [])
        new.append(onnx.helper.make_node("Conv", ins, [n.output[0]], name=f"{base}/Conv", kernel_shape=k,
                                         pads=cpads, dilations=dil, strides=[1] * sp, group=group))
        _splice(G, n, new)
        count += 1
    return count
