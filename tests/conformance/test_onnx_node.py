"""The native C backend against the ONNX backend node test cases (see cases.py for the
selection). Each case: load -> plan -> emit -> gcc (chunked, built once per session) ->
run -> compare every output with the case's rtol/atol (1e-3 / 1e-7, onnx's defaults)."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.runtime.host import run_host
from tests.conformance import cases as _cases
from tests.conformance.conftest import SUMMARY

NAMES = [c.name for c in _cases.select_cases()]


@pytest.mark.parametrize("name", NAMES)
def test_node_case(built_cases, name):
    c = built_cases[name]
    results = SUMMARY.setdefault("results", {})
    if c.skip:
        results[name] = "skipped"
        pytest.skip(c.skip)
    results[name] = "failed"
    assert c.error is None, c.error
    got = run_host(c.exe, c.inputs, model=_cases._c_name(name))
    assert len(got) == len(c.outputs)
    for k, (g, want) in enumerate(zip(got, c.outputs)):
        assert g.shape == want.shape, f"output {k}: shape {g.shape}, want {want.shape}"
        if want.dtype == np.bool_ or want.dtype.kind in "iu":
            np.testing.assert_array_equal(g, want.astype(g.dtype), err_msg=f"output {k}")
        else:
            np.testing.assert_allclose(g, want, rtol=c.rtol, atol=c.atol, equal_nan=True,
                                       err_msg=f"output {k}")
    results[name] = "passed"
