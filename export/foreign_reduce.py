"""Index reductions the native backend has no kernel for, rewritten into ones it has
(export/foreign_rewrite.py runs the rule): `arg_reduce`.

ArgMax/ArgMin(x, axis, keepdims, select_last_index) -> Cast(ReduceMin(Where(Equal(x, R(x)),
positions, n)), int64) with R = ReduceMax/ReduceMin over the axis (keepdims) and positions a
constant 0..n-1 along it: the first position holding the extreme value (the last one, with
select_last_index, through ReduceMax of Where(., positions, -1)). Exact for finite x: the
positions are small integers in float32. A classifier that returns its predicted class
(`logits.argmax(-1)`) is the usual source.

The rule is `(model) -> int` like the rules of export/foreign_rewrite.py.
"""
from __future__ import annotations

import numpy as np


def arg_reduce(model) -> int:
    import onnx
    from onnx import TensorProto
    from edgeformer.export.foreign import _opset
    from edgeformer.export.foreign_rewrite import _G, _const_name, _np_name, _shape, _splice
    G, count = _G(model), 0
    axes_input = _opset(model) >= 18          # ReduceMax/Min take axes as an input from opset 18
    for n in [n for n in G.g.node if n.op_type in ("ArgMax", "ArgMin") and n.domain in ("", "ai.onnx")]:
        shape = _shape(G, n.input[0])
        if shape is None or _np_name(G.dtype(n.input[0])) not in ("float32", "float16", "float64"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        axis = int(attrs.get("axis", 0)) % len(shape)
        keep, last = int(attrs.get("keepdims", 1)), int(attrs.get("select_last_index", 0))
        base = n.name or n.output[0]
        pos = np.arange(shape[axis], dtype=np.float32).reshape((-1,) + (1,) * (len(shape) - axis - 1))
        ext = "ReduceMax" if n.op_type == "ArgMax" else "ReduceMin"
        pick, fill = ("ReduceMax", -1.0) if last else ("ReduceMin", float(shape[axis]))

        def reduce(op, x, out, keepdims):
            if axes_input:
                ax = _const_name(G, f"{base}/axes", np.array([axis], np.int64))
                return onnx.helper.make_node(op, [x, ax], [out], name=f"{base}/{op}_{out[-1]}", keepdims=keepdims)
            return onnx.helper.make_node(op, [x], [out], name=f"{base}/{op}_{out[-1]}", axes=[axis],
                                         keepdims=keepdims)

        xf = n.input[0]
        new = []
        if _np_name(G.dtype(xf)) != "float32":
            new.append(onnx.helper.make_node("Cast", [xf], [f"{base}/xf"], name=f"{base}/Cast_in",
                                             to=TensorProto.FLOAT))
            xf = f"{base}/xf"
        new += [reduce(ext, xf, f"{base}/extreme", 1),
                onnx.helper.make_node("Equal", [xf, f"{base}/extreme"], [f"{base}/hit"], name=f"{base}/Equal"),
                onnx.helper.make_node("Where", [f"{base}/hit", _const_name(G, f"{base}/positions", pos),
                                                _const_name(G, f"{base}/fill", np.array(fill, np.float32))],
                                      [f"{base}/cand"], name=f"{base}/Where"),
                reduce(pick, f"{base}/cand", f"{base}/index", keep),
                onnx.helper.make_node("Cast", [f"{base}/index"], [n.output[0]], name=f"{base}/Cast_out",
                                      to=TensorProto.INT64)]
        _splice(G, n, new)
        count += 1
    return count
