"""emit_c: Graph + static plan -> model.h, model.c, weights.h, weights.c and the kernels.

model.c reads top to bottom like llama2.c's forward(): inputs are copied into the arena at
their planned offsets, then one kernel call per node at fixed offsets (each commented with
node name, op and shapes, wrapped in EF_PROFILE_BEGIN/END), then outputs are copied out.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from edgeformer.errors import EdgeformerError, UserError
from edgeformer.export.emit.clib import Api, CNames, c_names, library_files, provenance, provenance_lines, state_pairs
from edgeformer.export.emit.ctx import C_TYPES, EmitCtx, c_comment
from edgeformer.export.emit.registry import get_emitter
from edgeformer.export.ir import Graph
from edgeformer.fsio import write_text

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"
RESHAPE_LIKE = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")


def alias_hints(graph: Graph) -> dict[str, str]:
    """Outputs that may share their input's arena bytes (same data, new shape): {out: in}.

    The planner glue turns each into an alias_of rule; the emitter then sees equal offsets
    and emits nothing for the node (else it copies)."""
    hints = {}
    for n in graph.nodes:
        if n.op in RESHAPE_LIKE and n.inputs and not graph.tensors[n.inputs[0]].is_const:
            hints[n.outputs[0]] = n.inputs[0]
    return hints


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
           model_name: str = "model", name: str | None = None, provenance: dict | None = None) -> list[Path]:
    """Write the C library for `graph` under `out_dir` (sources, kernels, build files, README,
    example); return the paths written. `name` (export --name) prefixes every exported symbol
    and macro; `provenance` adds to what the banners record (`source`: the user's own model,
    `source_sha256`); the reference ONNX's file name and sha256 are recorded in any case."""
    names = c_names(model_name, name)
    prov = _provenance(graph, provenance)
    out = Path(out_dir)
    ctx = EmitCtx(graph, offsets, prefix=names.weights)
    used = {t for n in graph.nodes for t in (*n.inputs, *n.outputs) if t}
    used |= set(graph.inputs) | set(graph.outputs)
    _check_offsets(graph, offsets, arena_bytes, used)
    body = []
    for i, node in enumerate(graph.nodes):
        ctx.node = node
        code = get_emitter(node.op, node.name).fn(ctx, node)
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
                                     api.inputs, api.outputs, names=names, states=api.states)),
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


def _io(graph: Graph, names) -> list:
    return [(n, graph.tensors[n].dtype, tuple(graph.tensors[n].shape), graph.tensors[n].nbytes) for n in names]


def _api(graph: Graph, names: CNames, arena_bytes: int, prov: dict, ctx: EmitCtx) -> Api:
    ins, outs = _io(graph, graph.inputs), _io(graph, graph.outputs)
    weights = sum(int(d.nbytes) for _, d in ctx.weights.values())
    kernels = [p.name for p in _kernel_files() if p.suffix == ".c"]
    return Api(names, arena_bytes, weights, ins, outs, prov, state_pairs(ins, outs), kernels)


def api_header(banner: str, model_name: str, arena_bytes: int, inputs, outputs,
               names: CNames | None = None, states=()) -> str:
    """model.h, the C API both backends share. inputs/outputs: (name, dtype, shape, nbytes);
    states: clib.StatePair (streaming models get reset/carry functions for them)."""
    n = names or c_names(model_name)
    m = n.macro
    lines = [banner, f"#ifndef {n.guard}", f"#define {n.guard}", "", "#include <stdint.h>", "",
             "/* Bytes of the one static activation arena (from the planner). */",
             f"#define {m}_ARENA_BYTES {arena_bytes}",
             f"#define {m}_NUM_INPUTS {len(inputs)}",
             f"#define {m}_NUM_OUTPUTS {len(outputs)}", "",
             "/* Where the arena goes: empty (.bss) unless defined when compiling model.c, e.g.",
             f" * -D'{m}_ARENA_SECTION=__attribute__((section(\".dtcm_bss\")))' for the M7's DTCM. */",
             f"#ifndef {m}_ARENA_SECTION", f"#define {m}_ARENA_SECTION", "#endif", ""]
    for kind, ios in (("INPUT", inputs), ("OUTPUT", outputs)):
        for i, (nm, dtype, shape, nbytes) in enumerate(ios):
            numel = int(np.prod(shape, dtype=np.int64))
            lines += [f"/* {kind.lower()} {i}: {c_comment(nm)} {dtype} {list(shape)} */",
                      f"#define {m}_{kind}{i}_BYTES {nbytes}",
                      f"#define {m}_{kind}{i}_NUMEL {numel}",
                      f"#define {m}_{kind}{i}_RANK {len(shape)}",
                      f"#define {m}_{kind}{i}_SHAPE {{{', '.join(map(str, shape)) or '1'}}}",
                      f'#define {m}_{kind}{i}_DTYPE "{dtype}"', ""]
    lines += ["/* Nothing to set up (weights are const, the arena is static); returns 0. */",
              f"int {n.sym}_init(void);",
              f"/* inputs[i] / outputs[i] point at {m}_INPUTi_BYTES / {m}_OUTPUTi_BYTES bytes, laid out",
              " * densely in row-major order. Returns 0, or 1 + the index of the kernel call that",
              " * failed. Not reentrant: the arena is shared. */",
              f"int {n.sym}_run(const void *const *inputs, void *const *outputs);", ""]
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
           "#if defined(__GNUC__)", "#define EF_ALIGNED __attribute__((aligned(16)))", "#else",
           "#define EF_ALIGNED", "#endif", "",
           "/* Every activation lives at a fixed planner offset in this arena. */",
           "/* static: each model has its own, so two models link into one firmware. */",
           f"static uint8_t ef_arena[{m}_ARENA_BYTES > 0 ? {m}_ARENA_BYTES : 1] {m}_ARENA_SECTION EF_ALIGNED;", "",
           f"int {names.sym}_init(void)", "{", "    return 0;", "}", "",
           *_state_fns(names, states),
           f"int {names.sym}_run(const void *const *inputs, void *const *outputs)", "{",
           "    int st = EF_OK;",
           "    /* Inputs are copied into the arena at their planned offsets. */"]
    for i, n in enumerate(graph.inputs):
        pre.append(f"    memcpy(ef_arena + {offsets[n]}, inputs[{i}], {m}_INPUT{i}_BYTES);"
                   f"  /* {c_comment(n)} */")
    post = ["    /* Outputs are copied out of the arena. */"]
    for i, n in enumerate(graph.outputs):
        src = (ctx.weight(n, graph.tensors[n].data) if graph.tensors[n].is_const
               else f"ef_arena + {offsets[n]}")
        post.append(f"    memcpy(outputs[{i}], {src}, {m}_OUTPUT{i}_BYTES);  /* {c_comment(n)} */")
    post += ["    (void)st;", "    (void)inputs;", "    (void)outputs;", "    (void)ef_arena;",
             "    return 0;", "}", ""]
    return "\n".join(pre + [""] + body + [""] + post)


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
