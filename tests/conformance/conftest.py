"""Session fixture that builds every selected ONNX node case once, and the summary's data:
selected/passed/skipped counts overall and per op type (tests/conftest.py prints it, gathered
from the xdist workers)."""
import collections
import json
import os
from pathlib import Path

import pytest

from tests.conformance import cases as _cases

SUMMARY: dict = {}


@pytest.fixture(scope="session")
def built_cases(tmp_path_factory):
    cs = {c.name: c for c in _cases.select_cases()}
    # pytest-xdist workers share their basetemp's parent: the first one builds, the others reuse.
    base = tmp_path_factory.getbasetemp()
    _build_once(cs, (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "onnx_node")
    SUMMARY["cases"] = cs
    return cs


def _build_once(cs: dict, work: Path) -> None:
    """Build every case (about a minute) into `work` and record the outcome, unless another
    process of this session did: then wait on the lock and take its outcome."""
    from filelock import FileLock

    done = work / "built.json"
    with FileLock(str(work) + ".lock"):
        if not done.is_file():
            work.mkdir(exist_ok=True)
            _cases.build_all(list(cs.values()), work)
            rec = {n: {"skip": c.skip, "error": c.error, "exe": str(c.exe) if c.exe else None} for n, c in cs.items()}
            done.write_text(json.dumps(rec))
    for name, r in json.loads(done.read_text()).items():
        c = cs[name]
        c.skip, c.error, c.exe = r["skip"], r["error"], Path(r["exe"]) if r["exe"] else None


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
      f"skipped {count['skipped']}, failed {count['failed']}")
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
