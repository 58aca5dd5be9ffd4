"""emit_c: Graph + static plan -> model.h, model.c, weights.h, weights.c and the kernels.

model.c reads top to bottom like llama2.c's forward(): inputs are read where the caller put
them (`NAME_input(i)` points at the input's planned offset in the arena; a caller that passes
its own buffer instead gets it copied there), then one kernel call per node at fixed offsets
(each commented with node name, op and shapes, wrapped in EF_PROFILE_BEGIN/END); outputs are
read in the arena through `NAME_output(i)`, or copied into the caller's buffers.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from edgeformer.errors import EdgeformerError, UserError
from edgeformer.export.emit.clib import (Api, CNames, c_names, caller_held, library_files, provenance,
                                         provenance_lines, state_pairs)
from edgeformer.export.emit.ctx import C_TYPES, EmitCtx, c_comment
from edgeformer.export.emit.record import Emission, emit_nodes
from edgeformer.export.ir import Graph
from edgeformer.export.memory import ALIGNMENT
from edgeformer.fsio import write_text

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"
def _banner(prov: dict, what: str) -> str:
    return "\n".join([f"/* {what}", *(f" * {line}" for line in provenance_lines(prov))]) + " */\n"


def _shape_str(graph: Graph, name: str) -> str:
    t = graph.tensors[name]
    return f"{name}{list(t.shape)}:{t.dtype}"


def _c_array(cname: str, data: np.ndarray, dtype: str) -> str:
    flat = data.reshape(-1)
    if dtype == "float32":
        vals = [("NAN" if np.isnan(v) else ("INFINITY" if v > 0 else "-INFINITY"))
                if not np.isfinite(v) else _f32_literal(v) for v in flat.tolist()]
    else:
        vals = [str(int(v)) + ("LL" if dtype == "int64" else "") for v in flat.tolist()]
    lines = [", ".join(vals[i:i + 12]) for i in range(0, len(vals), 12)]
    body = ",\n    ".join(lines)
    return f"const {C_TYPES[dtype]} {cname}[{max(len(vals), 1)}] = {{\n    {body}\n}};\n"


def _f32_literal(v: float) -> str:
    s = "%.9g" % v  # 9 significant digits round-trip every float32
    return (s if any(c in s for c in ".e") else s + ".0") + "f"


def _dtype_of(data: np.ndarray) -> str:
    return "bool" if data.dtype == np.bool_ else str(data.dtype)


def _check_offsets(graph: Graph, offsets: dict[str, int], arena_bytes: int, used) -> None:
    for name in used:
        t = graph.tensors[name]
        if t.is_const:
            continue
        if name not in offsets:
            raise EdgeformerError(f"plan has no offset for activation {name}")
        if offsets[name] < 0 or offsets[name] + t.nbytes > arena_bytes:
            raise EdgeformerError(f"plan puts {name} ({t.nbytes} B) at {offsets[name]}, outside "
                                  f"the {arena_bytes}-byte arena")
        if t.numel == 0:
            raise UserError(f"tensor {name} has zero elements; empty tensors are not supported")


def emit_c(graph: Graph, offsets: dict[str, int], arena_bytes: int, out_dir,
           model_name: str = "model", name: str | None = None, provenance: dict | None = None,
           emission: Emission | None = None) -> list[Path]:
    """Write the C library for `graph` under `out_dir` (sources, kernels, build files, README,
    example); return the paths written. `name` (export --name) prefixes every exported symbol
    and macro; `provenance` adds to what the banners record (`source`: the user's own model,
    `source_sha256`); the reference ONNX's file name and sha256 are recorded in any case.
    `emission`: the nodes already emitted (record.emit_nodes, at these offsets with this
    name's weights prefix), written as they are; without it they are emitted here."""
    names = c_names(model_name, name)
    prov = _provenance(graph, provenance)
    out = Path(out_dir)
    used = {t for n in graph.nodes for t in (*n.inputs, *n.outputs) if t}
    used |= set(graph.inputs) | set(graph.outputs)
    _check_offsets(graph, offsets, arena_bytes, used)
    if emission is None:
        emission = emit_nodes(graph, offsets, names.weights)
    elif not emission.matches(names.weights, offsets):
        raise EdgeformerError(f"the emission was made for prefix {emission.prefix} at other offsets; "
                              f"writing {names.weights}: emit_nodes(graph, offsets, c_names(...).weights)")
    # Constant outputs are added to weights.c after the nodes' constants (model.c reads them).
    ctx = EmitCtx(graph, offsets, prefix=names.weights, weights=dict(emission.weights))
    body = []
    for i, (node, rec) in enumerate(zip(graph.nodes, emission.nodes)):
        code = rec.code
        ins = ", ".join(_shape_str(graph, t) for t in node.inputs if t)
        outs = ", ".join(_shape_str(graph, t) for t in node.outputs if t)
        label = node.name.replace("\\", "\\\\").replace('"', '\\"')
        body.append(f"    /* {i}: {c_comment(node.name)} ({node.op}) {c_comment(ins)} -> "
                    f"{c_comment(outs)} */")
        body.append(f"    EF_PROFILE_BEGIN({i});")
        body += ["    " + line for line in code]
        body.append(f'    EF_PROFILE_END({i}, "{label}");')
        body.append(f"    if (st != EF_OK) return {i + 1};")
    api = _api(graph, names, arena_bytes, prov, ctx)
    files = [
        (out / "model.h", api_header(_banner(prov, "model.h: the model API."), model_name, arena_bytes,
                                     api.inputs, api.outputs, names=names, states=api.states,
                                     quant=_quant(graph), held=caller_held(graph, api.states))),
        (out / "model.c", _model_c(graph, offsets, names, body, ctx, prov, api.states)),
        (out / "weights.h", _weights_h(prov, ctx)),
        (out / "weights.c", _weights_c(prov, ctx)),
    ]
    for path, text in files:
        write_text(path, text)
    paths = [p for p, _ in files]
    for src in _kernel_files():
        dst = out / src.name
        shutil.copyfile(src, dst)
        paths.append(dst)
    for rel, text in library_files(api):
        write_text(out / rel, text)
        paths.append(out / rel)
    return paths


def _kernel_files() -> list[Path]:
    return sorted(KERNEL_DIR.glob("*.[ch]"))


def _provenance(graph: Graph, given: dict | None) -> dict:
    return provenance(graph.meta, {"backend": "native", **(given or {})})


def _quant(graph: Graph) -> dict:
    """passes/io_dtype.py's record: per input/output, its quantisation in the API (or None)."""
    q = graph.meta.get("io_quant") or {}
    return {"inputs": q.get("inputs") or [None] * len(graph.inputs),
            "outputs": q.get("outputs") or [None] * len(graph.outputs)}


def _io(graph: Graph, names, quant: list) -> list:
    """(name, API dtype, shape, bytes): a uint8 I/O is int8 in the IR, flipped at the edge."""
    return [(n, (q or {}).get("dtype") or graph.tensors[n].dtype, tuple(graph.tensors[n].shape), graph.tensors[n].nbytes)
            for n, q in zip(names, quant)]


def _api(graph: Graph, names: CNames, arena_bytes: int, prov: dict, ctx: EmitCtx) -> Api:
    q = _quant(graph)
    ins, outs = _io(graph, graph.inputs, q["inputs"]), _io(graph, graph.outputs, q["outputs"])
    weights = sum(int(d.nbytes) for _, d in ctx.weights.values())
    kernels = [p.name for p in _kernel_files() if p.suffix == ".c"]
    return Api(names, arena_bytes, weights, ins, outs, prov, state_pairs(ins, outs), kernels)


def api_header(banner: str, model_name: str, arena_bytes: int, inputs, outputs,
               names: CNames | None = None, states=(), quant: dict | None = None, held=None) -> str:
    """model.h, the C API both backends share. inputs/outputs: (name, dtype, shape, nbytes);
    states: clib.StatePair (streaming models get reset/carry functions for them); quant: per
    input/output its scale and zero point (export --io-dtype int8/uint8); held: clib.caller_held
    (per input/output, whether it stays in the caller's buffer). Without `held` (the TVM backend)
    every I/O is copied and there are no NAME_input()/NAME_output() functions."""
    n = names or c_names(model_name)
    m = n.macro
    quant = quant or {}
    lines = [banner, f"#ifndef {n.guard}", f"#define {n.guard}", "", "#include <stdint.h>", "",
             "/* Bytes of the one static activation arena (from the planner). */",
             f"#define {m}_ARENA_BYTES {arena_bytes}",
             f"#define {m}_NUM_INPUTS {len(inputs)}",
             f"#define {m}_NUM_OUTPUTS {len(outputs)}", "",
             "/* Where the arena goes: empty (.bss) unless defined when compiling model.c, e.g.",
             f" * -D'{m}_ARENA_SECTION=__attribute__((section(\".dtcm_bss\")))' for the M7's DTCM. */",
             f"#ifndef {m}_ARENA_SECTION", f"#define {m}_ARENA_SECTION", "#endif", ""]
    if held is not None:
        lines += [f"/* I/O in the arena: {n.sym}_input(i) / {n.sym}_output(i) point at it (NULL for one that stays",
                  " * in the caller's buffer, _IN_ARENA 0). */", f"#define {m}_IO_IN_ARENA 1", ""]
    for kind, ios, hk in (("INPUT", inputs, 0), ("OUTPUT", outputs, 1)):
        for i, (nm, dtype, shape, nbytes) in enumerate(ios):
            numel = int(np.prod(shape, dtype=np.int64))
            lines += [f"/* {kind.lower()} {i}: {c_comment(nm)} {dtype} {list(shape)} */",
                      f"#define {m}_{kind}{i}_BYTES {nbytes}",
                      f"#define {m}_{kind}{i}_NUMEL {numel}",
                      f"#define {m}_{kind}{i}_RANK {len(shape)}",
                      f"#define {m}_{kind}{i}_SHAPE {{{', '.join(map(str, shape)) or '1'}}}",
                      f'#define {m}_{kind}{i}_DTYPE "{dtype}"']
            q = (quant.get(kind.lower() + "s") or [None] * len(ios))[i]
            if q:
                lines += [f"/* real = ({kind.lower()} - ZERO_POINT) * SCALE: the edge Quantize/Dequantize of the",
                          " * int8 model, folded into the caller's data (export --io-dtype). */",
                          f"#define {m}_{kind}{i}_SCALE {_f32_literal(q['scale'])}",
                          f"#define {m}_{kind}{i}_ZERO_POINT {int(q['zero_point'])}"]
            if held is not None:
                lines.append(f"#define {m}_{kind}{i}_IN_ARENA {0 if held[hk][i] else 1}")
            lines.append("")
    lines += ["/* Nothing to set up (weights are const, the arena is static); returns 0. */",
              f"int {n.sym}_init(void);",
              f"/* inputs[i] / outputs[i] point at {m}_INPUTi_BYTES / {m}_OUTPUTi_BYTES bytes, laid out",
              " * densely in row-major order. Returns 0, or 1 + the index of the kernel call that",
              " * failed. Not reentrant: the arena is shared. */",
              f"int {n.sym}_run(const void *const *inputs, void *const *outputs);", ""]
    if held is not None:
        lines += [f"/* Zero-copy I/O: write input i where {n.sym}_input(i) points and pass that pointer as",
                  f" * inputs[i]; pass {n.sym}_output(i) as outputs[i] and read the result there. {n.sym}_run then",
                  " * copies nothing. The bytes are the arena's: an input is consumed by the run, an output",
                  " * stays valid until the next input is written. NULL for an I/O with _IN_ARENA 0. */",
                  f"void *{n.sym}_input(int i);", f"void *{n.sym}_output(int i);", ""]
    if states:
        lines += ["/* Streaming: one time step per run. The state lives in the caller's buffers: state",
                  f" * k is input {m}_STATEk_INPUT, fed back from output {m}_STATEk_OUTPUT after each step.",
                  f" *   {n.sym}_reset(inputs);                  once, at the start of a sequence;",
                  " *   then every step: fill input 0,",
                  f" *   {n.sym}_run((const void *const *)inputs, outputs);",
                  f" *   {n.sym}_carry_state(inputs, outputs);",
                  " * (README.md shows the whole loop.) */",
                  f"#define {m}_NUM_STATES {len(states)}"]
        for k, s in enumerate(states):
            lines += [f"#define {m}_STATE{k}_INPUT {s.inp}   /* {c_comment(s.name)} */",
                      f"#define {m}_STATE{k}_OUTPUT {s.out}", f"#define {m}_STATE{k}_BYTES {s.nbytes}"]
        lines += ["/* Zero every state input: the start of a new sequence. */",
                  f"void {n.sym}_reset(void *const *inputs);",
                  "/* Copy every state output into its state input: call after each step. */",
                  f"void {n.sym}_carry_state(void *const *inputs, void *const *outputs);", ""]
    lines += [f"#endif /* {n.guard} */", ""]
    return "\n".join(lines)


def _model_c(graph: Graph, offsets, names: CNames, body: list[str], ctx: EmitCtx, prov: dict,
             states=()) -> str:
    m = names.macro
    pre = [_banner(prov, f"model.c: {names.lib}'s forward pass, one kernel call per node."),
           "#include <math.h>", "#include <string.h>", "", '#include "ef_kernels.h"',
           '#include "model.h"', '#include "weights.h"', "",
           "/* Profiling hooks: a target defines these (e.g. reading a cycle counter). */",
           "#ifndef EF_PROFILE_BEGIN", "#define EF_PROFILE_BEGIN(i) ((void)0)", "#endif",
           "#ifndef EF_PROFILE_END", "#define EF_PROFILE_END(i, name) ((void)0)", "#endif", "",
           "#if defined(__GNUC__)", f"#define EF_ALIGNED __attribute__((aligned({ALIGNMENT})))", "#else",
           "#define EF_ALIGNED", "#endif", "",
           "/* Every activation lives at a fixed planner offset in this arena. */",
           "/* static: each model has its own, so two models link into one firmware. */",
           f"static uint8_t ef_arena[{m}_ARENA_BYTES > 0 ? {m}_ARENA_BYTES : 1] {m}_ARENA_SECTION EF_ALIGNED;", "",
           f"int {names.sym}_init(void)", "{", "    return 0;", "}", "",
           *_state_fns(names, states),
           *_io_fns(graph, offsets, names, states),
           f"int {names.sym}_run(const void *const *inputs, void *const *outputs)", "{",
           "    int st = EF_OK;",
           "    /* Inputs: read in place when the caller wrote them where NAME_input(i) points, else",
           "     * copied to their planned offsets. */"]
    quant = _quant(graph)
    for i, n in enumerate(graph.inputs):
        dst = f"ef_arena + {offsets[n]}"
        pre.append(f"    if ((const void *)({dst}) != inputs[{i}]) memcpy({dst}, inputs[{i}], {m}_INPUT{i}_BYTES);"
                   f"  /* {c_comment(n)} */")
        if (quant["inputs"][i] or {}).get("dtype") == "uint8":
            pre.append(f"    ef_io_flip({dst}, {m}_INPUT{i}_BYTES);  /* uint8 -> the kernels' int8 */")
    post = ["    /* Outputs: in the arena (NAME_output(i)), or copied into the caller's buffers. */"]
    for i, n in enumerate(graph.outputs):
        src = (ctx.weight(n, graph.tensors[n].data) if graph.tensors[n].is_const
               else f"ef_arena + {offsets[n]}")
        if (quant["outputs"][i] or {}).get("dtype") == "uint8":
            post.append(f"    ef_io_flip({src}, {m}_OUTPUT{i}_BYTES);  /* int8 -> uint8 */")
        post.append(f"    if ((const void *)({src}) != outputs[{i}]) memcpy(outputs[{i}], {src}, {m}_OUTPUT{i}_BYTES);"
                    f"  /* {c_comment(n)} */")
    post += ["    (void)st;", "    (void)inputs;", "    (void)outputs;", "    (void)ef_arena;",
             "    return 0;", "}", ""]
    return "\n".join(pre + [""] + body + [""] + post)


def _io_fns(graph: Graph, offsets, names: CNames, states) -> list[str]:
    """NAME_input(i) / NAME_output(i): the arena address of each in-arena I/O (model.h), and
    ef_io_flip for a uint8 edge (the sign bit: uint8 u = int8 q + 128, zero point + 128)."""
    held_in, held_out = caller_held(graph, states)
    lines = []
    q = _quant(graph)
    if any((r or {}).get("dtype") == "uint8" for r in q["inputs"] + q["outputs"]):
        lines += ["/* uint8 <-> int8 in place: flip the sign bit of every byte (the offsets are aligned). */",
                  "static void ef_io_flip(uint8_t *p, uint32_t n)", "{", "    uint32_t i = 0;",
                  "    for (; i + 4 <= n; i += 4) *(uint32_t *)(void *)(p + i) ^= 0x80808080u;",
                  "    for (; i < n; ++i) p[i] ^= 0x80u;", "}", ""]
    for fn, ios, held in (("input", graph.inputs, held_in), ("output", graph.outputs, held_out)):
        cases = [f"    case {i}: return ef_arena + {offsets[t]};" for i, t in enumerate(ios) if not held[i]]
        lines += [f"void *{names.sym}_{fn}(int i)", "{", "    switch (i) {", *cases, "    default: return 0;",
                  "    }", "}", ""]
    return lines


def _state_fns(names: CNames, states) -> list[str]:
    """reset / carry_state for a streaming model (model.h documents them)."""
    if not states:
        return []
    m = names.macro
    reset = [f"    memset(inputs[{s.inp}], 0, {m}_STATE{k}_BYTES);" for k, s in enumerate(states)]
    carry = [f"    memcpy(inputs[{s.inp}], outputs[{s.out}], {m}_STATE{k}_BYTES);" for k, s in enumerate(states)]
    return [f"void {names.sym}_reset(void *const *inputs)", "{", *reset, "}", "",
            f"void {names.sym}_carry_state(void *const *inputs, void *const *outputs)", "{", *carry, "}", ""]


def _weights_h(prov: dict, ctx: EmitCtx) -> str:
    lines = [_banner(prov, "weights.h: the model's constants (in weights.c)."),
             f"#ifndef {ctx.prefix.upper()}_WEIGHTS_H", f"#define {ctx.prefix.upper()}_WEIGHTS_H",
             "", "#include <stdint.h>", ""]
    for key, (cname, data) in ctx.weights.items():
        dt = _dtype_of(data)
        lines.append(f"extern const {C_TYPES[dt]} {cname}[{max(data.size, 1)}];"
                     f"  /* {c_comment(key)} {list(data.shape)} {dt} */")
    return "\n".join(lines + ["", "#endif", ""])


def _weights_c(prov: dict, ctx: EmitCtx) -> str:
    parts = [_banner(prov, "weights.c: every constant as a const array (flash)."),
             "#include <math.h>", "", '#include "weights.h"', ""]
    for key, (cname, data) in ctx.weights.items():
        parts.append(f"/* {c_comment(key)}: {list(data.shape)} */")
        parts.append(_c_array(cname, data, _dtype_of(data)))
    return "\n".join(parts)
