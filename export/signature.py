"""The artifact's signature, recorded once in export.json: what build, run, profile, verify and
reference read instead of parsing the generated C or the ONNX file again.

    name, symbol, macro   the C prefixes (`export --name`): `<symbol>_run`, `<macro>_ARENA_BYTES`
    inputs, outputs       per I/O, in C symbol order (`<macro>_INPUTi_*`): index, name, dtype,
                          shape, bytes, in_arena (NAME_input(i) points into the arena), and with
                          `--io-dtype int8/uint8` its scale and zero point; an output also has
                          step_scale (the scale of the int8 grid it is dequantised from: verify's
                          quantisation step; None when it is not on one)
    io_in_arena           the C API has NAME_input()/NAME_output() (native backend)
    io_dtype              float32 | int8 | uint8
    state_pairs           streaming state: input i is fed back from output o after each step
    ops                   profiled ops (model.c's EF_PROFILE_BEGIN(0..ops-1))
    profile_slots         the profile table model.c fills (EF_PROF_MAX_OPS): the ops, then the
                          parts of every fused row loop (export/emit/profile_parts.py)

Both backends' model.h are written from the same tensors (export/emit/writer.api_header); the
native backend's I/O placement and state pairs are the emitter's own rules (export/emit/clib).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

# A view of a dequantised tensor stays on its grid (verify's step size).
_VIEWS = ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze")


def step_scales(onnx_path: Path) -> list[float | None]:
    """Per graph output, in order: the scale of the int8 tensor it is dequantised from."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(onnx_path))
    inits = {i.name: i for i in m.graph.initializer}
    producer = {o: node for node in m.graph.node for o in node.output}
    scales: list[float | None] = []
    for out in m.graph.output:
        node = producer.get(out.name)
        while node is not None and node.op_type in _VIEWS:
            node = producer.get(node.input[0])
        ok = node is not None and node.op_type == "DequantizeLinear" and node.input[1] in inits
        scales.append(float(numpy_helper.to_array(inits[node.input[1]]).reshape(-1)[0]) if ok else None)
    return scales


def _io(graph, names: list[str], quant: list, held: list[bool] | None) -> list[dict[str, Any]]:
    rows = []
    for i, (n, q) in enumerate(zip(names, quant)):
        t = graph.tensors[n]
        row = {"index": i, "name": n, "dtype": (q or {}).get("dtype") or t.dtype,   # uint8 is int8 in the IR
               "shape": [int(d) for d in t.shape], "bytes": int(t.nbytes),
               "in_arena": held is not None and not held[i]}
        if q:
            row.update(scale=float(q["scale"]), zero_point=int(q["zero_point"]))
        rows.append(row)
    return rows


def artifact_signature(graph, reference: Path, backend: str, name: str | None, io_dtype: str,
                       ops: int) -> dict[str, Any]:
    """The signature of the C written for `graph` (the lowered graph the C runs); `ops`: the
    kernel calls model.c profiles (the graph's nodes, or the TVM executor's calls)."""
    from edgeformer.export.emit.clib import c_names, caller_held, state_pairs
    from edgeformer.export.emit.profile_parts import profile_slots

    native = backend == "native"
    names = c_names("model", name)   # both backends' API: NAME_run / NAME_* (export --name) or ef_model_* / EF_*
    q = graph.meta.get("io_quant") or {}
    if native:
        held_in, held_out = caller_held(graph)
    else:   # the TVM executor copies every I/O in and out of its arena
        held_in = held_out = None
    ins = _io(graph, list(graph.inputs), q.get("inputs") or [None] * len(graph.inputs), held_in)
    outs = _io(graph, list(graph.outputs), q.get("outputs") or [None] * len(graph.outputs), held_out)
    for row, scale in zip(outs, step_scales(reference)):
        row["step_scale"] = scale
    pairs = state_pairs([(r["name"], r["dtype"], r["shape"], r["bytes"]) for r in ins],
                        [(r["name"], r["dtype"], r["shape"], r["bytes"]) for r in outs])
    return {"name": name or "model", "symbol": names.sym, "macro": names.macro, "inputs": ins, "outputs": outs,
            "io_in_arena": native, "io_dtype": io_dtype,
            "state_pairs": [{"input": p.inp, "output": p.out, "name": p.name, "bytes": p.nbytes} for p in pairs],
            "ops": int(ops), "profile_slots": int(profile_slots(graph)) if native else int(ops)}
