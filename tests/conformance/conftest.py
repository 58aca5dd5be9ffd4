"""Session fixture that collects, selects and builds every ONNX node case once per test session
(the first xdist worker does it; the others wait on the lock and load its result), and the
summary's data: selected/passed/skipped counts overall and per op type (tests/conftest.py
prints it, gathered from the xdist workers)."""
import collections
import os
import pickle
from pathlib import Path

import pytest

from tests.conformance import cases as _cases

SUMMARY: dict = {}


@pytest.fixture(scope="session")
def built_cases(tmp_path_factory) -> dict[str, _cases.Case]:
    # pytest-xdist workers share their basetemp's parent: the first one builds, the others reuse.
    base = tmp_path_factory.getbasetemp()
    cs = _build_once((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "onnx_node")
    SUMMARY["cases"] = cs
    return cs


def _build_once(work: Path) -> dict[str, _cases.Case]:
    """Collect, select and build every case into `work` (about a minute) and keep the cases
    with their outcome in built.pkl, unless another process of this session did: then wait
    on the lock and load that."""
    from filelock import FileLock

    done = work / "built.pkl"
    with FileLock(str(work) + ".lock"):
        if not done.is_file():
            work.mkdir(exist_ok=True)
            selected = _cases.select(_cases.collect())
            _cases.build_all(selected, work)
            tmp = done.with_suffix(".part")
            tmp.write_bytes(pickle.dumps([c for c, _ in selected]))
            tmp.replace(done)
    return {c.name: c for c in pickle.loads(done.read_bytes())}


def summary_data() -> dict | None:
    """This process's cases and results as plain data (an xdist worker sends it to the
    controller, which prints the summary), or None when no case was built here."""
    cs = SUMMARY.get("cases")
    if not cs:
        return None
    return {"cases": {n: {"ops": list(c.ops), "skip": c.skip or ""} for n, c in cs.items()},
            "results": dict(SUMMARY.get("results", {}))}


def report(data: dict, w) -> None:
    """The selected/passed/skipped counts overall and per op type, and each skip's reason."""
    cs, res = data["cases"], data["results"]
    count = collections.Counter(res.values())
    w(f"onnx node conformance: selected {len(cs)}, ran {len(res)}, passed {count['passed']}, "
      f"skipped {count['skipped']}, known failures {count['xfailed']}, failed {count['failed']}")
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, c in cs.items():
        for op in c["ops"]:
            per_op[op]["selected"] += 1
            per_op[op][res.get(name, "not run")] += 1
    w("  per op (selected/passed/skipped): " + ", ".join(
        f"{op} {v['selected']}/{v['passed']}/{v['skipped']}" for op, v in sorted(per_op.items())))
    for name, c in sorted(cs.items()):
        if res.get(name) == "skipped":
            w(f"  skipped {name}: {c['skip'][:160]}")
