"""Session fixture that builds every selected ONNX node case once, and a terminal summary
with the selected/passed/skipped counts overall and per op type."""
import collections

import pytest

from tests.conformance import cases as _cases

SUMMARY: dict = {}


@pytest.fixture(scope="session")
def built_cases(tmp_path_factory):
    cs = {c.name: c for c in _cases.select_cases()}
    _cases.build_all(list(cs.values()), tmp_path_factory.mktemp("onnx_node"))
    SUMMARY["cases"] = cs
    return cs


def pytest_terminal_summary(terminalreporter):
    cs = SUMMARY.get("cases")
    if not cs:
        return
    res = SUMMARY.get("results", {})
    count = collections.Counter(res.values())
    w = terminalreporter.write_line
    w(f"onnx node conformance: selected {len(cs)}, ran {len(res)}, passed {count['passed']}, "
      f"skipped {count['skipped']}, failed {count['failed']}")
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, c in cs.items():
        for op in c.ops:
            per_op[op]["selected"] += 1
            per_op[op][res.get(name, "not run")] += 1
    w("  per op (selected/passed/skipped): " + ", ".join(
        f"{op} {v['selected']}/{v['passed']}/{v['skipped']}" for op, v in sorted(per_op.items())))
    for name, c in sorted(cs.items()):
        if res.get(name) == "skipped":
            w(f"  skipped {name}: {c.skip[:160]}")
