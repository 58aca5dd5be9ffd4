"""Emit once: the export's C stage with the plan's emission handed to the writer (today's
pipeline.lower_and_emit) beside the same stage emitting a second time in the writer (what the
export did before: make_plan emitted for its flash figure, then emit_c emitted again).

For each preset, its int8 model is exported once (model.int8.onnx, the CLI's own path), then
the two ways alternate R times on that one file, each: lower_and_plan (IR, passes, plan, one
emission) + emit_c into a fresh folder. Prints the median seconds of each way side by side,
the saving, the median time of one emission alone (emit_nodes on the planned graph: what the
second emission cost), and whether the two ways wrote byte-identical files. The machine's load is
printed: the cores are shared.

    .venv/bin/python bench/emit_once.py                       # vit-tiny-ref, lmuformer-fsdd
    .venv/bin/python bench/emit_once.py --preset vit-fmnist --repeats 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _int8_model(preset: str, tmp: Path) -> Path:
    from edgeformer.export.pipeline import export_artifact, resolve_source

    art = tmp / f"{preset}-art"
    export_artifact(art, resolve_source(None, preset, None), quantize="int8", log=lambda *a, **k: None)
    return art / "model.int8.onnx"


def _c_stage(model: Path, out: Path, given: bool) -> float:
    """lower_and_plan + emit_c; `given`: the writer takes the plan's emission (else emits again)."""
    from edgeformer.export.emit.clib import c_names
    from edgeformer.export.emit.writer import emit_c
    from edgeformer.export.plan_only import lower_and_plan

    t0 = time.perf_counter()
    low = lower_and_plan(model, prefix=c_names("model").weights)
    emit_c(low.graph, low.placed.offsets, low.placed.arena_bytes, out,
           emission=low.emission if given else None)
    return time.perf_counter() - t0


def _one_emission(model: Path, repeats: int) -> float:
    """Median seconds of emit_nodes alone on the planned graph: what the second emission cost."""
    from edgeformer.export.emit.record import emit_nodes
    from edgeformer.export.plan_only import lower_and_plan

    low = lower_and_plan(model)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        emit_nodes(low.graph, low.placed.offsets)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _same_files(a: Path, b: Path) -> bool:
    fa, fb = sorted(p.relative_to(a) for p in a.rglob("*")), sorted(p.relative_to(b) for p in b.rglob("*"))
    return fa == fb and all((a / p).read_bytes() == (b / p).read_bytes() for p in fa if (a / p).is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="zoo preset (repeatable; default vit-tiny-ref, lmuformer-fsdd)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'preset':24s} {'emit twice (s)':>15s} {'emit once (s)':>14s} {'saved':>7s} "
          f"{'one emission (s)':>17s}  same C")
    with tempfile.TemporaryDirectory(prefix="edgeformer-emit-once-") as tmp:
        for preset in args.preset or ["vit-tiny-ref", "lmuformer-fsdd"]:
            model = _int8_model(preset, Path(tmp))
            twice, once = [], []
            for r in range(args.repeats):   # alternating: a load change hits both ways alike
                twice.append(_c_stage(model, Path(tmp) / f"{preset}-twice{r}", given=False))
                once.append(_c_stage(model, Path(tmp) / f"{preset}-once{r}", given=True))
            a, b = statistics.median(twice), statistics.median(once)
            same = _same_files(Path(tmp) / f"{preset}-twice0", Path(tmp) / f"{preset}-once0")
            one = _one_emission(model, args.repeats)
            print(f"{preset:24s} {a:15.3f} {b:14.3f} {100 * (a - b) / a:6.1f}% {one:17.3f}  {same}", flush=True)


if __name__ == "__main__":
    main()
