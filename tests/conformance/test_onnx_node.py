"""The native C backend against the ONNX backend node test cases, against a pinned list
(expected.py): each case pinned as passing is exported (loader, passes, planner, writer),
compiled, run and compared with the case's rtol/atol (1e-3 / 1e-7, onnx's defaults); each
pinned skip must still be rejected with a UserError, each pinned failure (a known export bug)
must still fail. A new skip, a stale skip or failure (the case now exports / passes) and a
pinned case no longer selected fail, and so does a selected case left unpinned."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.runtime.host import run_host
from tests.conformance import cases as _cases
from tests.conformance.conftest import SUMMARY
from tests.conformance.expected import FAILING, PASSING, SKIPPED
from tests.conformance.pin import _reason as reason


def _run_and_compare(c: _cases.Case) -> None:
    got = run_host(c.exe, c.inputs, model=_cases.c_name(c.name))
    assert len(got) == len(c.outputs)
    for k, (g, want) in enumerate(zip(got, c.outputs)):
        assert g.shape == want.shape, f"output {k}: shape {g.shape}, want {want.shape}"
        if want.dtype == np.bool_ or want.dtype.kind in "iu":
            np.testing.assert_array_equal(g, want.astype(g.dtype), err_msg=f"output {k}")
        else:
            np.testing.assert_allclose(g, want, rtol=c.rtol, atol=c.atol, equal_nan=True,
                                       err_msg=f"output {k}")


@pytest.mark.parametrize("name", _cases.PINNED)
def test_node_case(built_cases, name):
    c = built_cases.get(name)
    assert c is not None, (f"{name} is pinned in expected.py but no longer selected (gone from the onnx "
                           "wheel, or it needs a runtime input the backend does not take); unpin it")
    results = SUMMARY.setdefault("results", {})
    results[name] = "failed"
    if name in FAILING:
        _known_failure(c, FAILING[name], results)
    if name in SKIPPED:
        if c.skip:
            # the pinned reason, not any rejection: a skip that now fails for another reason is news
            assert reason(c.skip) == SKIPPED[name], f"pinned skip now rejected for another reason: {c.skip}"
            results[name] = "skipped"
            pytest.skip(f"{SKIPPED[name]}")
        assert c.error is None, f"pinned skip ({SKIPPED[name]}) now exports but fails: {c.error}"
        pytest.fail(f"stale skip: {name} now exports; move it from SKIPPED to PASSING in expected.py")
    assert c.skip is None, f"new skip: {c.skip}; fix it, or list it in expected.SKIPPED with the reason"
    assert c.error is None, c.error
    _run_and_compare(c)
    results[name] = "passed"


def _known_failure(c: _cases.Case, why: str, results: dict) -> None:
    """A pinned failure must still fail the same way: its export errors, or its result is wrong."""
    assert c.skip is None, f"pinned as failing ({why}) but now rejected: {c.skip}; move it to SKIPPED"
    if c.error is None:
        try:
            _run_and_compare(c)
        except AssertionError as e:
            results[c.name] = "xfailed"
            pytest.xfail(f"{why}: wrong result ({str(e).strip().splitlines()[0]})")
        pytest.fail(f"known failure fixed: {c.name} now passes; move it from FAILING to PASSING in expected.py")
    results[c.name] = "xfailed"
    pytest.xfail(why)


def test_every_selected_case_is_pinned(built_cases):
    twice = (set(PASSING) & set(SKIPPED)) | (set(PASSING) & set(FAILING)) | (set(SKIPPED) & set(FAILING))
    assert not twice, f"pinned in two lists of expected.py: {sorted(twice)}"
    new = sorted(set(built_cases) - set(_cases.PINNED))
    assert not new, (f"{len(new)} selected cases are not pinned in expected.py (add each to PASSING, "
                     f"or to SKIPPED with the reason): {new[:20]}")
