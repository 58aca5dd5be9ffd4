"""The search's memory model: the export planner itself, plus the runtime's measured cost.

SRAM of a candidate = plan.json's `arena_bytes` for its int8 export (the real lowering:
torch -> ONNX -> int8 QDQ -> IR -> LOWERING + MEMORY passes -> make_plan, through the
exporter's own `export.plan_only.lower_and_plan`, stopped before the C) + its I/O buffers
+ the runtime's own RAM (stack reserve, libc, harness, per-op profile table) measured from
real firmware builds. Flash = plan `weights_bytes` + code measured the same way. No formula
of our own for the model's memory: only the planner's figures and linker-measured sizes.

The plan's sizes depend on shapes, not on weight values or quantisation scales (one
exception: a streaming step's Concat gets a 256-byte requantising table per input whose
calibrated range does not cover the others', which data and trained weights decide): the model
is untrained (seeded, then perturbed so that no two parameters are equal, as after training:
an optimiser must not be able to merge identical constants that a trained model would keep
apart) and calibrated on two seeded random inputs. tests/unit/test_nas_memory.py checks the
result against `export_artifact` of the same spec (real data, 256 calibration samples) and
against other weights and calibration data, and random candidates of every space against
their full export. Throughput: bench/search.py (stages, 1 process vs a pool of workers).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.fsio import cache_root
from edgeformer.export.memory import ALIGNMENT
from edgeformer.specs import Spec

# Spec fields that change constant values only, never a shape: candidates differing only in
# these share one plan (checked in tests/unit/test_nas_memory.py).
SIZE_NEUTRAL = ("theta", "lif_threshold", "lif_leak")
PLAN_KEYS = ("arena_bytes", "liveness_bound_bytes", "weights_bytes", "macs", "ops", "io_bytes")
_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    d = cache_root() / "nas"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _tree_hash(*globs: str) -> str:
    """Hash of source files: a cached size is stale once the code that produced it changes."""
    h = hashlib.sha256()
    for g in globs:
        for p in sorted(_ROOT.glob(g)):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def size_key(spec: Spec) -> str:
    d = spec.to_dict()
    for k in SIZE_NEUTRAL:
        d.pop(k, None)
    return json.dumps(d, sort_keys=True)


def runtime_kind(spec: Spec) -> str:
    """Candidates of one kind link the same kernels and harness (what the runtime cost depends on)."""
    spiking = getattr(spec, "spiking", False) or getattr(spec, "spiking_mlp", False)
    return spec.family + ("-spiking" if spiking else "")


# ------------------------------------------------------------------ the planner, fast path
def _model(spec: Spec):
    """The untrained, seeded, perturbed model of `spec`."""
    import torch

    from edgeformer.models import build

    torch.manual_seed(0)
    model = build(spec).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def _torch_graph(spec: Spec, model):
    """What export_onnx's torch.onnx.export gives, before `simplify` (and without its
    onnxruntime-vs-torch check, which does not change the graph)."""
    import torch

    from edgeformer.export.onnx_export import StepModule, _torch_export, flatten_state, is_streaming, step_io_names

    if is_streaming(spec):
        ins, outs, _ = step_io_names(model)
        step = StepModule(model).eval()
        args = (torch.zeros(1, spec.in_features), *[t for _, t in flatten_state(step.template)])
        return _torch_export(step, args, ins, outs)
    return _torch_export(model, (torch.zeros(1, *spec.input_shape),), ["input"], ["logits"])


def _proto(spec: Spec):
    """(float ONNX proto, model): what export_onnx writes for the untrained model."""
    from edgeformer.export.onnx_export import simplify

    model = _model(spec)
    return simplify(_torch_graph(spec, model)), model


def _calibration(spec: Spec, model) -> list[dict[str, np.ndarray]]:
    """Two seeded random images, or one random sequence streamed step by step through the
    model as export.quantize.calibration_inputs does: a state must take the values it takes
    on the MCU (a step counter counts), else the quantiser treats it differently (measured:
    random states gave lmuformer-tiny one op and 256 weight bytes fewer than the export)."""
    import torch

    from edgeformer.export.onnx_export import flatten_state, is_streaming, step_io_names

    rng = np.random.default_rng(0)
    if not is_streaming(spec):
        return [{"input": rng.standard_normal((1, *spec.input_shape)).astype(np.float32)} for _ in range(2)]
    ins, _, _ = step_io_names(model)
    feeds, state = [], model.init_state(1)
    with torch.no_grad():
        # The state is advanced by one random sequence and the inputs fed beside it come from
        # another: states take MCU-like values (a step counter counts) while no state's range
        # equals an input's by construction. Real data never gives a delay line exactly its
        # input's range; equal ranges would let the lowering drop a Concat requantiser.
        drive, feed = (rng.standard_normal(spec.input_shape).astype(np.float32) for _ in range(2))
        for x_t, d_t in zip(feed, drive):
            flat = [torch.from_numpy(x_t[None])] + [t for _, t in flatten_state(state)]
            feeds.append({k: v.numpy().copy() for k, v in zip(ins, flat)})
            _, state = model.step(torch.from_numpy(d_t[None]), state)
    return feeds


STAGES = ("model", "export", "simplify", "calibrate", "quantize", "passes", "plan")


def plan_candidate(spec: Spec, core_features: tuple[str, ...] | None = None) -> dict[str, Any]:
    """plan.json's figures for `spec`'s int8 export, plus the graph's I/O bytes; seconds per
    stage (STAGES) in `_seconds`. The export's own steps, stopped at the plan
    (export/plan_only.py): no C, no plot, no numerics checks. `core_features`: the board's
    core, as `export --board` names it to the emitter (its weight layout decides the flash)."""
    from contextlib import nullcontext

    from edgeformer.export.emit.ops_qlinear import core_features as emit_for
    from edgeformer.export.onnx_check import one_thread
    from edgeformer.export.onnx_export import simplify
    from edgeformer.export.plan_only import lower_and_plan, qdq_model
    from edgeformer.nas.latency import graph_totals

    t = [time.perf_counter()]

    def lap():
        t.append(time.perf_counter())

    # One torch thread: batch-1 work gains nothing from more, and on busy cores OpenMP
    # waits made a GELU call take milliseconds (the LMU calibration ran 8x slower).
    with one_thread():
        model = _model(spec)
        lap()
        raw = _torch_graph(spec, model)
        lap()
        proto = simplify(raw)
        lap()
        feeds = _calibration(spec, model)
        lap()
    q = qdq_model(proto, feeds)   # the export's quantiser, same options
    lap()
    with emit_for(core_features) if core_features is not None else nullcontext():
        low = lower_and_plan(q)
    t += [t[-1] + low.seconds["passes"], t[-1] + low.seconds["passes"] + low.seconds["plan"]]  # its own laps
    graph = low.graph
    out = {k: low.plan[k] for k in PLAN_KEYS if k in low.plan}
    # The I/O the API makes the caller hold outside the arena (a streaming model's state): the
    # rest of the I/O lives in the arena, which the plan already counts (emit/clib.caller_held).
    from edgeformer.export.emit.clib import caller_held
    held_in, held_out = caller_held(graph)
    out["io_bytes"] = [graph.tensors[n].nbytes for n, h in zip((*graph.inputs, *graph.outputs), (*held_in, *held_out))
                       if h]
    # For the latency objective (nas/latency.py): the kernels the plan's own emission chose.
    out["latency_features"] = graph_totals(graph, low.emission)
    out["_seconds"] = {k: round(b - a, 4) for k, a, b in zip(STAGES, t, t[1:])}
    return out


def _warm_worker() -> int:
    """Imports a worker needs, done once before it is timed or asked."""
    import onnxruntime  # noqa: F401
    import onnxscript.optimizer  # noqa: F401
    import torch

    import edgeformer.export.passes  # noqa: F401
    import edgeformer.models  # noqa: F401
    from edgeformer.export import plan_only  # noqa: F401
    torch.set_num_threads(1)
    return os.getpid()


# ------------------------------------------------------------------ the runtime, measured
@dataclass(frozen=True)
class RuntimeCost:
    """Linker-measured cost of the firmware around a model, fitted on two real builds:
    RAM = arena + I/O buffers + ram_base + ram_per_op x ops, flash = weights + code_base +
    code_per_op x ops (model.c grows by one call per op, the profile table by one row)."""

    core: str
    kind: str
    ram_base: int
    ram_per_op: float
    code_base: int
    code_per_op: float
    builds: tuple = ()

    def ram(self, ops: int) -> int:
        # + one 16-byte alignment gap: the arena and I/O buffers are 16-byte aligned and the
        # linker's padding between them moves with their sizes (measured up to 5 B short without).
        # + ALIGNMENT: the slack of ef_arena's alignment in the ELF
        return -(-(self.ram_base + math.ceil(self.ram_per_op * ops)) // 8) * 8 + ALIGNMENT

    def code(self, ops: int) -> int:
        return int(self.code_base + math.ceil(self.code_per_op * ops))


def _reference_specs(kind: str) -> list[Spec]:
    from edgeformer.specs import LMUFormerSpec, ViTSpec
    if kind.startswith("vit"):
        return [ViTSpec(in_channels=1, image_size=8, patch_size=4, dim=8, depth=d, heads=1, mlp_ratio=1.0,
                        num_classes=10, spiking_mlp=kind.endswith("spiking")) for d in (1, 3)]
    return [LMUFormerSpec(in_features=4, seq_len=8, patch_channels=(8,), patch_kernel=3, dim=8, memory_order=4,
                          theta=8.0, hidden=8, mlp_ratio=1.0, depth=d, spiking=kind.endswith("spiking"))
            for d in (1, 3)]


def measure_runtime(core: str, kind: str, log=lambda m: None) -> RuntimeCost:
    """Build two reference models of `kind` for `core` (a 4 MiB stand-in board, so nothing
    overflows) and fit the runtime's RAM and code cost; cached per core, kind and source."""
    key = _tree_hash("runtime/firmware/*", "runtime/cross.py", "boards/cortex_m.ld", "boards/startup_cortex_m.c",
                     "export/kernels/*", "export/kernel_limits.py", "export/emit/*.py", "targets/*.py",
                     "nas/memory.py")
    path = cache_dir() / f"runtime-{core}-{kind}-{key}.json"
    if path.is_file():
        d = json.loads(path.read_text())
        return RuntimeCost(**{**d, "builds": tuple(d["builds"])})
    import torch

    from edgeformer.export.pipeline import Source, export_artifact
    from edgeformer.fsio import write_json
    from edgeformer.models import build
    from edgeformer.nas.latency import stand_in
    from edgeformer.runtime.cross import build_firmware

    board = stand_in(core)  # an unknown core fails here, with the known names
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeformer-nas-rt-") as tmp:
        for i, spec in enumerate(_reference_specs(kind)):
            log(f"measuring the runtime's RAM and code on {core} ({kind}, build {i + 1}/2)")
            torch.manual_seed(0)
            art = Path(tmp) / f"ref{i}"
            meta = export_artifact(art, Source("preset", f"nas-ref-{kind}", spec, build(spec).eval()),
                                   log=lambda m: None)
            rec = build_firmware(art, board)
            plan = meta["plan"]
            # build's ram_bytes = arena + caller-held I/O + measured stack + static state: the
            # runtime's share is what is left once the plan's own figures are taken out.
            io = rec["caller_io_bytes"]
            rows.append({"ops": plan["ops"], "ram": rec["ram_bytes"] - plan["arena_bytes"] - io,
                         "code": rec["flash_bytes"] - plan["weights_bytes"]})
    (a, b) = rows
    span = max(1, b["ops"] - a["ops"])
    # Never below zero: the measured stack is not linear in ops, and a larger model measuring a
    # smaller stack must not make every extra op look like it saves RAM.
    ram_per_op, code_per_op = max(0.0, (b["ram"] - a["ram"]) / span), max(0.0, (b["code"] - a["code"]) / span)
    # Upper envelope: the base is chosen so both measured builds are met exactly or over.
    ram_base = max(r["ram"] - int(ram_per_op * r["ops"]) for r in rows)
    code_base = max(r["code"] - int(code_per_op * r["ops"]) for r in rows)
    cost = RuntimeCost(core, kind, ram_base, ram_per_op, code_base, code_per_op, tuple(rows))
    write_json(path, {**cost.__dict__, "builds": list(rows)})
    return cost


# ------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Budget:
    sram_bytes: int
    flash_bytes: int
    core: str = "cortex-m7"
    clock_hz: int = 216_000_000
    board: str | None = None


class MemoryModel:
    """candidate -> {sram_bytes, flash_bytes, arena_bytes, ...}; plans cached by shape key in
    memory and on disk (shared by workers and later searches).

    workers=1 lowers in this process, one at a time (torch's ONNX exporter is not
    thread-safe); workers=K lowers in K spawned processes, so K threads calling the model,
    or one `plan_many` batch, keep K cores busy. A shape being lowered is lowered once:
    other callers asking for it wait for that result."""

    def __init__(self, budget: Budget, log=lambda m: None, workers: int = 1) -> None:
        self.budget = budget
        self.log = log
        # The board's core decides the int8 weight layout, hence the flash: plan as export --board does
        from edgeformer.export.emit.ops_qlinear import weight_layout
        from edgeformer.targets.cores import target
        feats = tuple(sorted(target(budget.core).features))
        layout = weight_layout(feats)
        self._features = feats if layout else None
        self._layout_key = f"@{layout}" if layout else ""
        self.workers = max(1, int(workers))
        self._lock = threading.Lock()
        self._lower_lock = threading.Lock()
        self._pool = None
        self._runtime: dict[str, RuntimeCost] = {}
        self._plans: dict[str, dict] = {}
        self._pending: dict[str, Future] = {}
        self.lowered = self.hits = 0
        self.lower_seconds = 0.0
        key = _tree_hash("export/*.py", "export/memory/*.py", "export/passes/*.py", "export/emit/*.py", "edgeformer/models/*.py",
                         "edgeformer/specs.py", "nas/memory.py", "nas/latency.py")
        self._file = cache_dir() / f"plans-{key}.jsonl"
        if self._file.is_file():
            for line in self._file.read_text().splitlines():
                try:
                    k, v = json.loads(line)
                    self._plans[k] = v
                except ValueError:
                    continue  # a line cut short by a killed writer

    # -- lowering
    def _executor(self):
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a forked child would inherit torch's and onnxruntime's thread pools mid-state.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm_worker)
        return self._pool

    def warm_up(self) -> None:
        """Start the worker processes and do their imports now (seconds), not at the first candidate."""
        if self.workers > 1:
            pool = self._executor()
            for f in [pool.submit(_warm_worker) for _ in range(self.workers)]:
                f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _record(self, key: str, p: dict) -> None:
        with self._lock:
            self.lower_seconds += sum(p["_seconds"].values())
            self.lowered += 1
            self._plans[key] = p
            self._pending.pop(key).set_result(p)
            with open(self._file, "a") as fh:  # one short line per write: appends do not interleave
                fh.write(json.dumps([key, p]) + "\n")

    def _fail(self, key: str, e: BaseException) -> None:
        # A Ctrl-C can land inside _record after the future was resolved: failing it again would
        # turn the interrupt into a KeyError that a study records as one failed trial.
        with self._lock:
            fut = self._pending.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_exception(e)

    def plan_many(self, specs: list[Spec]) -> list[dict[str, Any]]:
        """plan() of each spec; the uncached shapes are lowered side by side (workers > 1)."""
        keys = [size_key(s) + self._layout_key for s in specs]
        mine: dict[str, Spec] = {}
        with self._lock:
            for k, s in zip(keys, specs):
                if k in self._plans or k in self._pending:
                    self.hits += 1
                    continue
                self._pending[k] = Future()
                mine[k] = s
            waits = {k: self._pending.get(k) for k in keys}
        if self.workers > 1:
            jobs = {k: self._executor().submit(plan_candidate, s, self._features) for k, s in mine.items()}
            for k, job in jobs.items():
                try:
                    self._record(k, job.result())
                except BaseException as e:
                    self._fail(k, e)
        else:
            for k, s in mine.items():
                try:
                    with self._lower_lock:
                        p = plan_candidate(s, self._features)
                    self._record(k, p)
                except BaseException as e:
                    self._fail(k, e)
        return [self._plans[k] if waits[k] is None else waits[k].result() for k in keys]

    def plan(self, spec: Spec) -> dict[str, Any]:
        return self.plan_many([spec])[0]

    def runtime(self, spec: Spec) -> RuntimeCost:
        kind = runtime_kind(spec)
        with self._lock:
            if kind not in self._runtime:
                self._runtime[kind] = measure_runtime(self.budget.core, kind, self.log)
            return self._runtime[kind]

    def __call__(self, spec: Spec) -> dict[str, Any]:
        return self.memory(spec, self.plan(spec))

    def many(self, specs: list[Spec]) -> list[dict[str, Any]]:
        """__call__ of each spec, lowering the uncached ones side by side (a study's batch)."""
        return [self.memory(s, p) for s, p in zip(specs, self.plan_many(specs))]

    def memory(self, spec: Spec, p: dict[str, Any]) -> dict[str, Any]:
        """The candidate's SRAM/flash from its plan figures `p` and the runtime's measured cost."""
        rt = self.runtime(spec)
        io = sum(p["io_bytes"])   # as build counts it: the caller-held buffers' symbol sizes
        runtime_ram, code = rt.ram(p["ops"]), rt.code(p["ops"])
        return {"sram_bytes": p["arena_bytes"] + io + runtime_ram, "flash_bytes": p["weights_bytes"] + code,
                "arena_bytes": p["arena_bytes"], "weights_bytes": p["weights_bytes"], "io_bytes": io,
                "runtime_ram_bytes": runtime_ram, "code_bytes": code, "macs": p["macs"], "ops": p["ops"],
                "latency_features": p["latency_features"]}


def candidate_memory(spec: Spec, budget: Budget) -> dict[str, Any]:
    """One-off form of MemoryModel (a search keeps one MemoryModel for its caches)."""
    return MemoryModel(budget)(spec)
