"""Recurrent ops unrolled over their static sequence length into ops the native backend has
(export/foreign_rewrite.py runs the rule): `rnn_unroll`.

LSTM (gates i, o, f, c) and GRU (z, r, h; either linear_before_reset) as the ONNX spec
defines them, forward, reverse or bidirectional, layout 0 (torch's exporters write that), with constant weights and
constant (or absent, i.e. zero) initial state, default activations, no clip, no peepholes,
no input_forget coupling and no sequence_lens shorter than the sequence. Per direction:

    XW = X @ W^T + Wb (+ Rb)           one MatMul for every step at once, (T, B, G*H)
    step t: g = XW[t] + h @ R^T ...    Gather, MatMul, Add, Slices of the gate columns,
                                       Sigmoid/Tanh, Mul/Add/Sub as the spec's equations

and Y / Y_h / Y_c assembled by Reshape + Concat. That is T steps of small ops (a 16-step
LSTM is ~200 nodes), each with a kernel, all quantisable like any other; numerics are the
spec's equations in float32 (verify checks them against onnxruntime's LSTM/GRU kernel).
Anything outside the list above stays an LSTM/GRU node and the loader's unsupported-op error
names it.

The rule is `(model) -> int` like the rules of export/foreign_rewrite.py.
"""
from __future__ import annotations

import numpy as np

from edgeformer.export.foreign_views import _attr

GATES = {"LSTM": 4, "GRU": 3}


class _Emit:
    """Node and constant factory for one rewritten node (names under `base`)."""

    def __init__(self, G, base):
        self.G, self.base, self.nodes, self.k, self.consts = G, base, [], 0, {}

    def const(self, tag, value, shared=False):
        """A new initializer; `shared` ones (index constants) are made once per tag."""
        from edgeformer.export.foreign_rewrite import _const_name
        if shared and tag in self.consts:
            return self.consts[tag]
        name = _const_name(self.G, f"{self.base}/{tag}", np.asarray(value))
        if shared:
            self.consts[tag] = name
        return name

    def op(self, op, ins, out=None, **attrs):
        import onnx
        self.k += 1
        out = out or f"{self.base}/v{self.k}"
        self.nodes.append(onnx.helper.make_node(op, list(ins), [out], name=f"{self.base}/{op}_{self.k}", **attrs))
        return out


def _supported(G, n, shape):
    acts = _attr(n, "activations")
    default = [b"Sigmoid", b"Tanh", b"Tanh"] if n.op_type == "LSTM" else [b"Sigmoid", b"Tanh"]
    if acts and [a if isinstance(a, bytes) else a.encode() for a in acts] != default * (len(acts) // len(default)):
        return False
    if _attr(n, "clip") is not None or _attr(n, "input_forget", 0) or _attr(n, "layout", 0):
        return False    # layout 1: onnxruntime (the numerics truth) has no kernel for it either
    ins = list(n.input) + [""] * 8
    if any(G.const(ins[k]) is None for k in (1, 2)) or (ins[3] and G.const(ins[3]) is None):
        return False
    if n.op_type == "LSTM" and ins[7]:
        return False    # peepholes
    seq = ins[4]
    if seq:
        lens = G.const(seq)
        t = shape[1] if _attr(n, "layout", 0) else shape[0]
        if lens is None or not (lens == t).all():
            return False
    for k in ((5, 6) if n.op_type == "LSTM" else (5,)):
        if ins[k] and G.const(ins[k]) is None:
            return False
    return True


def _direction(e: _Emit, op, x, w, r, b, h0, c0, t_len, bsz, hid, reverse, lbr):
    """One direction: returns ([h_t per step, in time order], last h, last c)."""
    g = GATES[op]
    wb, rb = (b[:g * hid], b[g * hid:]) if b is not None else (np.zeros(g * hid, np.float32),) * 2
    bias = wb + rb if op == "LSTM" else np.concatenate([wb[:2 * hid] + rb[:2 * hid], wb[2 * hid:]])
    xw = e.op("Add", [e.op("MatMul", [x, e.const("WT", w.T.copy())]), e.const("Wb", bias.astype(np.float32))])
    rt = e.const("RT", r.T.copy()) if op == "LSTM" or lbr else None
    h = e.const("h0", h0) if h0 is not None and h0.any() else None
    c = e.const("c0", c0) if c0 is not None and c0.any() else None

    def gate(v, k):
        return e.op("Slice", [v, e.const(f"s{k}", np.array([k * hid], np.int64), True),
                              e.const(f"e{k}", np.array([(k + 1) * hid], np.int64), True),
                              e.const("ax", np.array([-1], np.int64), True)])

    rbh = rb[2 * hid:].astype(np.float32) if op == "GRU" else None

    def rbh_c():   # the recurrent bias of the h gate, one constant per direction
        return e.const(f"Rbh{int(reverse)}", rbh, True)

    rt_zr = e.const("RT_zr", r[:2 * hid].T.copy()) if op == "GRU" and not lbr else None
    rt_h = e.const("RT_h", r[2 * hid:].T.copy()) if op == "GRU" and not lbr else None
    hs = {}
    for t in (range(t_len - 1, -1, -1) if reverse else range(t_len)):
        xt = e.op("Gather", [xw, e.const(f"t{t}", np.array(t, np.int64), True)], axis=0)   # (B, G*H)
        if op == "LSTM":
            pre = xt if h is None else e.op("Add", [xt, e.op("MatMul", [h, rt])])
            i, o, f = (e.op("Sigmoid", [gate(pre, k)]) for k in range(3))
            cc = e.op("Tanh", [gate(pre, 3)])
            ic = e.op("Mul", [i, cc])
            c = ic if c is None else e.op("Add", [e.op("Mul", [f, c]), ic])
            h = e.op("Mul", [o, e.op("Tanh", [c])])
        elif h is None:         # h = 0: the recurrent terms are the recurrent bias only
            z, rg = e.op("Sigmoid", [gate(xt, 0)]), e.op("Sigmoid", [gate(xt, 1)])
            rec = e.op("Mul", [rg, rbh_c()]) if lbr else rbh_c()
            hh = e.op("Tanh", [e.op("Add", [gate(xt, 2), rec])])
            h = e.op("Sub", [hh, e.op("Mul", [z, hh])])                            # (1 - z) * hh
        else:
            if lbr:
                hr = e.op("MatMul", [h, rt])                                          # (B, 3H)
                pre = e.op("Add", [xt, hr])
                z, rg = e.op("Sigmoid", [gate(pre, 0)]), e.op("Sigmoid", [gate(pre, 1)])
                rec = e.op("Mul", [rg, e.op("Add", [gate(hr, 2), rbh_c()])])
            else:
                zr = e.op("Slice", [xt, e.const("s0", np.array([0], np.int64), True),
                                    e.const("e1", np.array([2 * hid], np.int64), True),
                                    e.const("ax", np.array([-1], np.int64), True)])
                pre = e.op("Add", [zr, e.op("MatMul", [h, rt_zr])])
                z, rg = e.op("Sigmoid", [gate(pre, 0)]), e.op("Sigmoid", [gate(pre, 1)])
                rec = e.op("Add", [e.op("MatMul", [e.op("Mul", [rg, h]), rt_h]), rbh_c()])
            hh = e.op("Tanh", [e.op("Add", [gate(xt, 2), rec])])
            h = e.op("Add", [hh, e.op("Mul", [z, e.op("Sub", [h, hh])])])           # (1 - z) hh + z h
        hs[t] = h
    return [hs[t] for t in range(t_len)], h, c


def rnn_unroll(model) -> int:
    from edgeformer.export.foreign_rewrite import _G, _shape, _splice
    G, count = _G(model), 0
    for n in [n for n in G.g.node if n.op_type in GATES and n.domain in ("", "ai.onnx")]:
        shape = _shape(G, n.input[0])
        if shape is None or len(shape) != 3 or not _supported(G, n, shape):
            continue
        ins = list(n.input) + [""] * 8
        outs = list(n.output) + [""] * 3
        layout = _attr(n, "layout", 0)
        direction = _attr(n, "direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        hid = int(_attr(n, "hidden_size"))
        lbr = int(_attr(n, "linear_before_reset", 0))
        t_len, bsz = (shape[1], shape[0]) if layout else (shape[0], shape[1])
        e = _Emit(G, n.name or n.output[0])
        x = e.op("Transpose", [ins[0]], perm=[1, 0, 2]) if layout else ins[0]      # (T, B, I)
        w, r = G.const(ins[1]).astype(np.float32), G.const(ins[2]).astype(np.float32)
        b = G.const(ins[3]).astype(np.float32) if ins[3] else None
        h0 = G.const(ins[5]).astype(np.float32) if ins[5] else None
        c0 = G.const(ins[6]).astype(np.float32) if n.op_type == "LSTM" and ins[6] else None
        dirs = [False, True] if direction == "bidirectional" else [direction == "reverse"]
        per = [_direction(e, n.op_type, x, w[d], r[d], None if b is None else b[d],
                          None if h0 is None else h0[d], None if c0 is None else c0[d], t_len, bsz, hid, rev, lbr)
               for d, rev in enumerate(dirs)]
        nd = len(dirs)
        step = e.const("step_shape", np.array([1, 1, bsz, hid], np.int64))
        last = e.const("last_shape", np.array([1, bsz, hid], np.int64))
        if outs[0]:
            cols = [e.op("Concat", [e.op("Reshape", [h, step]) for h in hs], axis=0) for hs, _, _ in per]
            y = cols[0] if nd == 1 else e.op("Concat", cols, axis=1)                   # (T, D, B, H)
            if layout:
                e.op("Transpose", [y], outs[0], perm=[2, 0, 1, 3])                    # (B, T, D, H)
            else:
                e.op("Identity", [y], outs[0])
        for k, pick in ((1, 1), (2, 2)):
            if outs[k]:
                parts = [e.op("Reshape", [p[pick], last]) for p in per]
                v = parts[0] if nd == 1 else e.op("Concat", parts, axis=0)            # (D, B, H)
                e.op("Transpose", [v], outs[k], perm=[1, 0, 2]) if layout else e.op("Identity", [v], outs[k])
        _splice(G, n, e.nodes)
        count += 1
    return count
