"""Search benchmarks. Part 1 (done): memory-model throughput, cold (every candidate lowered)
and as a study sees it (repeats hit the shape-key cache), with the time per stage.
Part 2 (not done yet): best accuracy found vs the hand-sized preset at 32/64/128/320 KiB on
fashion-mnist and 16/32/64 KiB on fsdd (run `edgeformer search` per budget).

    .venv/bin/python bench/search.py [--family vit --dataset digits --n 30]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import optuna


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="vit")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--n", type=int, default=30)
    a = ap.parse_args()
    os.environ["EDGEFORMER_CACHE"] = tempfile.mkdtemp(prefix="edgeformer-bench-")  # cold plan cache
    from edgeformer.data import load_dataset
    from edgeformer.nas.memory import Budget, MemoryModel, plan_candidate
    from edgeformer.nas.space import space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ds, sp = load_dataset(a.dataset), space(a.family)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    specs = [sp.suggest(study.ask(), ds) for _ in range(a.n)]
    plan_candidate(specs[0])  # imports and first-call set-up out of the timing
    stages = {"onnx": 0.0, "quantize": 0.0, "plan": 0.0}
    t0 = time.perf_counter()
    for s in specs:
        for k, v in plan_candidate(s)["_seconds"].items():
            stages[k] += v
    cold = time.perf_counter() - t0
    print(f"{a.family}/{a.dataset}: {a.n} candidates lowered cold in {cold:.1f} s = {a.n / cold:.2f} candidates/s")
    print("  per candidate: " + ", ".join(f"{k} {1000 * v / a.n:.0f} ms" for k, v in stages.items()))
    mm = MemoryModel(Budget(1 << 30, 1 << 30))
    for s in specs:
        mm.plan(s)
    t0 = time.perf_counter()
    for s in specs * 10:
        mm.plan(s)
    warm = time.perf_counter() - t0
    print(f"  cached (repeat shape): {10 * a.n / warm:.0f} candidates/s")


if __name__ == "__main__":
    main()
