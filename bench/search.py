"""Search benchmark, part 1: memory-model throughput (part 2, accuracy against the presets,
is bench/search_accuracy.py).

For each family/dataset, N candidates sampled at random from the search space (seed 0) go
through nas/memory.py's MemoryModel three ways, each with an empty plan cache except the last:
  cold, 1 process    every candidate lowered in this process (the export up to plan.json);
  cold, K processes  the same N as one batch (`plan_many`) over K worker processes;
  cached             the same N again, ten times: shape-key cache hits, as a study repeats.
Worker start-up and imports are done before the clock starts (`warm_up`). Then the time per
stage of one lowering (model build, torch.onnx export, onnxscript simplify, calibration
feeds, ORT int8 QDQ, IR load + passes, make_plan with the emitter's weight packing), mean
over the candidates. The machine's load is printed: the cores are shared. Last, the cold
K-process rate beside the bound that the library stages alone set (K / their time per
candidate: torch.onnx export, onnxscript simplify, onnxruntime QDQ).
The 10 candidates/s target is retired (issue 15 item 6): what a user waits for is a whole
search, whose wall time bench/search_accuracy.py reports per budget.

    .venv/bin/python bench/search.py                                   # vit/fashion-mnist, lmuformer/fsdd
    .venv/bin/python bench/search.py --family vit --dataset digits --n 30 --workers 2
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import optuna

TARGETS = (("vit", "fashion-mnist"), ("lmuformer", "fsdd"))
# Stages spent inside libraries we call as they are (torch's exporter, onnxscript's optimiser,
# onnxruntime's quantiser): their time bounds the throughput whatever our own code costs.
LIBRARY_STAGES = ("export", "simplify", "quantize")


def _specs(family: str, dataset: str, n: int):
    from edgeformer.data import load_dataset
    from edgeformer.nas.space import space

    ds, sp = load_dataset(dataset), space(family)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [sp.suggest(study.ask(), ds) for _ in range(n)], sp.corners(ds)[0]


def _fresh_model(workers: int):
    from edgeformer.nas.memory import Budget, MemoryModel

    os.environ["EDGEFORMER_CACHE"] = tempfile.mkdtemp(prefix="edgeformer-bench-")  # cold plan cache
    return MemoryModel(Budget(1 << 30, 1 << 30), workers=workers)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(family: str, dataset: str, n: int, workers: int) -> dict:
    from edgeformer.nas.memory import STAGES, size_key

    specs, warm = _specs(family, dataset, n)
    serial = _fresh_model(1)
    serial.plan(warm)                               # imports and first-call set-up out of the timing
    cold1 = _timed(lambda: serial.plan_many(specs))
    plans = [serial.plan(s) for s in specs]
    stages = {k: sum(p["_seconds"][k] for p in plans) / n for k in STAGES}
    pool = _fresh_model(workers)
    try:
        pool.warm_up()
        coldk = _timed(lambda: pool.plan_many(specs))
        same = [{k: v for k, v in p.items() if k != "_seconds"} for p in plans]
        assert [{k: v for k, v in pool.plan(s).items() if k != "_seconds"} for s in specs] == same, \
            "the worker processes planned differently"
        cached = _timed(lambda: [pool.plan(s) for s in specs * 10])
    finally:
        pool.close()
    return {"case": f"{family}/{dataset}", "n": n, "shapes": len({size_key(s) for s in specs}),
            "cold1": n / cold1, "coldk": n / coldk, "cached": 10 * n / cached, "stages": stages}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family")
    ap.add_argument("--dataset")
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cases = [(a.family, a.dataset)] if a.family else TARGETS
    rows = []
    for family, dataset in cases:
        if not dataset:
            ap.error("--family needs --dataset")
        rows.append(bench(family, dataset, a.n, a.workers))
    load = os.getloadavg()[0]
    print(f"memory model throughput, candidates/s ({os.cpu_count()} cores, load {load:.1f} at the end)")
    print(f"{'family/dataset':24} {'N':>4} {'shapes':>6} {'cold, 1 proc':>13} {f'cold, {a.workers} procs':>14} "
          f"{'cached':>9}")
    for r in rows:
        print(f"{r['case']:24} {r['n']:>4} {r['shapes']:>6} {r['cold1']:>13.2f} {r['coldk']:>14.2f} "
              f"{r['cached']:>9.0f}")
    print("\ntime per stage of one lowering, ms (mean over the N candidates, 1 process)")
    names = list(rows[0]["stages"])
    print(f"{'family/dataset':24} " + " ".join(f"{k:>9}" for k in names) + f" {'total':>9}")
    for r in rows:
        st = r["stages"]
        print(f"{r['case']:24} " + " ".join(f"{1000 * st[k]:>9.0f}" for k in names)
              + f" {1000 * sum(st.values()):>9.0f}")
    print(f"\ncold candidates/s with {a.workers} processes, and the bound "
          f"{a.workers} / the time of the library stages ({', '.join(LIBRARY_STAGES)}) alone")
    print(f"{'family/dataset':24} {'cold/s':>8} {'library ms':>11} {'bound/s':>8}")
    for r in rows:
        lib = sum(r["stages"][k] for k in LIBRARY_STAGES)
        bound = a.workers / lib
        print(f"{r['case']:24} {r['coldk']:>8.2f} {1000 * lib:>11.0f} {bound:>8.2f}")


if __name__ == "__main__":
    main()
