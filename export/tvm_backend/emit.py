"""emit_tvm_c: reference ONNX -> Relax -> TVM C kernels + our executor, arena and plan."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeformer.export.emit.clib import CNames, c_names
from edgeformer.export.memory import ALIGNMENT, BufferReq, Plan, plan_to_dict
from edgeformer.export.tvm_backend.executor import (DL_TYPES, banner, c_comment, plan_program, rt_header,
                                                    scratch_name, weights_files, describe)
from edgeformer.export.tvm_backend.kernels_c import RT_HEADER, KernelInfo, build_kernels_c
from edgeformer.export.tvm_backend.relax_graph import RProgram, load_relax, relax_program, zero_pipeline
from edgeformer.fsio import write_text

KERNELS_C = "ef_tvm_kernels.c"  # ef_*.c: runtime/host.py compiles it with model.c
OWNED = ("model.h", "model.c", "weights.h", "weights.c", RT_HEADER, KERNELS_C)


def _header(prog: RProgram, arena_bytes: int, names: CNames, source: str) -> str:
    """model.h: the native backend's API header (export/emit/writer.py), with every I/O copied."""
    from edgeformer.export.emit.writer import api_header

    def io(ns):
        return [(n, prog.tensors[n].dtype, tuple(prog.tensors[n].shape), prog.tensors[n].nbytes) for n in ns]
    return api_header(banner("model.h: the model API.", source), "model", arena_bytes, io(prog.inputs),
                      io(prog.outputs), names=names)


def _model_c(prog: RProgram, info: dict[str, KernelInfo], placed: Plan, wname: dict[str, str],
             names: CNames, source: str) -> str:
    prefix, m = names.sym, names.macro
    off = placed.offsets
    shapes: dict[tuple[int, ...], str] = {}
    tindex: dict[str, int] = {}
    rows = []
    for n, t in prog.tensors.items():
        sname = shapes.setdefault(t.shape, f"ef_shape_{len(shapes)}")
        where = f"(void *){wname[n]}" if n in wname else f"(void *)(ef_arena + {off[n]})"
        code, bits = DL_TYPES[t.dtype]
        tindex[n] = len(rows)
        rows.append(f"    /* {len(rows)}: {c_comment(describe(prog, n))}"
                    f"{' (const)' if n in wname else f' @ {off[n]}'} */\n"
                    f"    {{{where}, {{1, 0}}, {len(t.shape)}, {{{code}, {bits}, 1}}, (int64_t *){sname}, NULL, 0}},")
    out = [banner(f"model.c: {names.lib}'s forward pass, one TVM kernel call per fused op.", source),
           "#include <string.h>", "", f'#include "{RT_HEADER}"', '#include "model.h"',
           '#include "weights.h"', "",
           "/* Profiling hooks: a target defines these (e.g. reading a cycle counter). */",
           "#ifndef EF_PROFILE_BEGIN", "#define EF_PROFILE_BEGIN(i) ((void)0)", "#endif",
           "#ifndef EF_PROFILE_END", "#define EF_PROFILE_END(i, name) ((void)0)", "#endif", "",
           "#if defined(__GNUC__)", f"#define EF_ALIGNED __attribute__((aligned({ALIGNMENT})))",
           "#define EF_UNUSED __attribute__((unused))", "#else", "#define EF_ALIGNED",
           "#define EF_UNUSED", "#endif", "",
           "/* Every activation and every kernel's workspace lives at a fixed planner offset here;",
           f" * {m}_ARENA_SECTION (model.h) places it. static: two models link into one firmware. */",
           f"static uint8_t ef_arena[{m}_ARENA_BYTES > 0 ? {m}_ARENA_BYTES : 1] {m}_ARENA_SECTION EF_ALIGNED;", "",
           "/* TVM's kernel workspace: a stack inside the block the plan reserved for this call.",
           " * TVM frees in reverse order of allocation, so free pops back to the pointer. */",
           "static uint8_t *ef_ws_base, *ef_ws_top, *ef_ws_end;", "",
           "static EF_UNUSED void ef_ws_begin(uint8_t *base, uint32_t bytes)", "{",
           "    ef_ws_base = ef_ws_top = base;", "    ef_ws_end = base + bytes;", "}", "",
           f"void *{prefix}_ws_alloc(int device_type, int device_id, uint64_t nbytes, int dtype_code,"
           " int dtype_bits)", "{", "    uint8_t *p = ef_ws_top;",
           "    uint64_t n = (nbytes + 15u) & ~(uint64_t)15u;",
           "    (void)device_type; (void)device_id; (void)dtype_code; (void)dtype_bits;",
           "    if (n > (uint64_t)(ef_ws_end - p)) return NULL;", "    ef_ws_top = p + n;",
           "    return p;", "}", "",
           f"int {prefix}_ws_free(int device_type, int device_id, void *ptr)", "{",
           "    (void)device_type; (void)device_id;",
           "    if ((uint8_t *)ptr >= ef_ws_base && (uint8_t *)ptr < ef_ws_top) ef_ws_top = (uint8_t *)ptr;",
           "    return 0;", "}", "", "/* Tensor shapes (int64, as DLPack wants). */"]
    for shape, sname in shapes.items():
        out.append(f"static const int64_t {sname}[{max(len(shape), 1)}] = "
                   f"{{{', '.join(map(str, shape)) or '1'}}};")
    out += ["", "/* One DLTensor per tensor: fixed arena offset or const weight; const, so flash. */",
            f"static const DLTensor ef_t[{len(rows)}] = {{", *rows, "};", "",
            "/* Packed arguments per call (inputs..., outputs...), as TVM's calling convention wants. */"]
    for i, c in enumerate(prog.calls):
        args = ", ".join(f"{{kTVMFFIDLTensorPtr, 0, (void *)&ef_t[{tindex[n]}]}}"
                         for n in (*c.inputs, *c.outputs))
        out.append(f"static const TVMFFIAny ef_args_{i}[{len(c.inputs) + len(c.outputs)}] = {{{args}}};")
    out += ["", f"int {prefix}_init(void)", "{", "    return 0;", "}", "",
            f"int {prefix}_run(const void *const *inputs, void *const *outputs)", "{",
            "    int32_t st;", "    /* Inputs are copied into the arena at their planned offsets. */"]
    for i, n in enumerate(prog.inputs):
        out.append(f"    memcpy(ef_arena + {off[n]}, inputs[{i}], {m}_INPUT{i}_BYTES);  /* {c_comment(n)} */")
    out.append("")
    for i, c in enumerate(prog.calls):
        k = info[c.kernel]
        ins = ", ".join(describe(prog, n) for n in c.inputs)
        outs = ", ".join(describe(prog, n) for n in c.outputs)
        out.append(f"    /* {i}: {c.kernel}({c_comment(ins)}) -> {c_comment(outs)}"
                   f"{f'; workspace {k.workspace_bytes} B' if k.workspace_bytes else ''} */")
        out.append(f"    EF_PROFILE_BEGIN({i});")
        if k.workspace_bytes:
            out.append(f"    ef_ws_begin(ef_arena + {off[scratch_name(i)]}, {k.workspace_bytes}u);")
        n_args = len(c.inputs) + len(c.outputs)
        out.append(f"    st = {k.symbol}(NULL, (void *)ef_args_{i}, {n_args}, NULL);")
        out.append(f'    EF_PROFILE_END({i}, "{c.kernel}");')
        out.append(f"    if (st != 0) return {i + 1};")
    out += ["", "    /* Outputs are copied out of the arena. */"]
    for i, n in enumerate(prog.outputs):
        src = wname[n] if n in wname else f"ef_arena + {off[n]}"
        out.append(f"    memcpy(outputs[{i}], {src}, {m}_OUTPUT{i}_BYTES);  /* {c_comment(n)} */")
    out += ["    (void)inputs;", "    (void)outputs;", "    (void)st;", "    return 0;", "}", ""]
    return "\n".join(out)


def emit_tvm_c(onnx_path: str | Path, out_dir: str | Path, model_name: str = "model",
               name: str | None = None) -> tuple[dict[str, Any], list[BufferReq], Plan]:
    """Write model.h/model.c/weights.h/weights.c/ef_tvm_rt.h/ef_tvm_kernels.c into out_dir.

    `name` (export --name) prefixes every exported symbol and macro as the native backend
    does (NAME_init, NAME_run, NAME_ARENA_BYTES, NAME_ARENA_SECTION, the include guard), and
    every other global symbol too (kernels, workspace allocator, weights), so two models
    link into one firmware; without it today's ef_<model_name> / EF_ names stay.

    The Relax program after TVM's fusion has its own tensors, so it is planned here with
    our planner (plan_buffers); the returned (plan dict, buffers, placed plan) mirror
    export/plan.make_plan. plan dict: plan_to_dict's keys plus backend, kernel_calls,
    max_workspace_bytes (largest kernel scratch) and kernel_stack_bytes (largest C-stack
    arrays of one kernel, outside the arena)."""
    names = c_names(model_name, name)    # UserError for a name that is no C identifier
    onnx_path, out = Path(onnx_path), Path(out_dir)
    prefix = names.sym
    mod = zero_pipeline(load_relax(onnx_path))
    prog = relax_program(mod)
    src, info = build_kernels_c(mod, prefix)
    bufs, placed = plan_program(prog, info)
    whdr, wsrc, wname = weights_files(prog, prefix, onnx_path.name)
    files = {"model.h": _header(prog, placed.arena_bytes, names, onnx_path.name),
             "model.c": _model_c(prog, info, placed, wname, names, onnx_path.name),
             "weights.h": whdr, "weights.c": wsrc,
             RT_HEADER: rt_header(prefix, info, onnx_path.name), KERNELS_C: src}
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("ef_*.c"), *out.glob("ef_*.h")]:  # a native backend's kernels
        if stale.name not in OWNED:
            stale.unlink()
    for name, text in files.items():
        write_text(out / name, text)
    used = [info[c.kernel] for c in prog.calls]
    plan = plan_to_dict(bufs, placed)
    plan.update({"backend": "tvm", "kernel_calls": len(prog.calls),
                 "max_workspace_bytes": max((k.workspace_bytes for k in used), default=0),
                 "kernel_stack_bytes": max((k.stack_bytes for k in used), default=0)})
    return plan, bufs, placed
