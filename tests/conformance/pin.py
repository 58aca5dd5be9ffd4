"""Regenerate expected.py from a fresh export of every selected case:

    .venv/bin/python -m tests.conformance.pin > /tmp/expected.py && mv /tmp/expected.py tests/conformance/expected.py

(Not straight into expected.py: the shell would empty it before cases.py imports it.)

Every case that exports is pinned as passing (the suite then runs it, and a wrong result
fails it); every UserError is a skip, any other export error a known failure, each with the
first line of its message as the reason. Review the diff: a new skip or failure is a lost
capability, a case gone from PASSING a lost case."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.conformance import cases as _cases

HEADER = '''"""The ONNX node cases the native backend claims (tests/conformance/cases.py selects them).

PASSING: built, run and compared. SKIPPED: case -> why the export rejects it (a UserError).
FAILING: case -> the export bug it hits (an expected failure until fixed). A case that skips
or fails but is not listed so, one listed that now exports or passes, and one pinned here
that is no longer selected all fail the suite. Regenerate with
`.venv/bin/python -m tests.conformance.pin` and review the diff.
"""
'''


def _reason(msg: str) -> str:
    line = msg.strip().splitlines()[0]
    return line if len(line) <= 150 else line[:147] + "..."


def main() -> int:
    selected = _cases.select(_cases.collect())
    passing, skipped, failing = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="edgeformer-pin-") as tmp:
        for c, model in selected:
            try:
                _cases.export_case(c, model, Path(tmp) / c.name)
                passing.append(c.name)
            except _cases.UserError as e:
                skipped[c.name] = _reason(str(e))
            except Exception as e:  # noqa: BLE001 - an export bug: a known failure, until fixed
                failing[c.name] = _reason(f"{type(e).__name__}: {e}")
    out = [HEADER, "PASSING: tuple[str, ...] = (", *(f"    {n!r}," for n in sorted(passing)), ")", "",
           "SKIPPED: dict[str, str] = {", *(f"    {n!r}: {r!r}," for n, r in sorted(skipped.items())), "}", "",
           "FAILING: dict[str, str] = {", *(f"    {n!r}: {r!r}," for n, r in sorted(failing.items())), "}", ""]
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
