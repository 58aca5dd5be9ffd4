"""Shared fixtures: the real CLI entry point, run as users run it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EDGEFORMER = Path(sys.executable).with_name("edgeformer")


def run_cli(*args, check=None, timeout=600):
    """Run `edgeformer ARGS` as a subprocess; returns CompletedProcess (text)."""
    env = dict(os.environ, PYTHONHASHSEED="0", COLUMNS="200")
    proc = subprocess.run([str(EDGEFORMER), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    if check is not None and proc.returncode != check:
        raise AssertionError(f"edgeformer {' '.join(map(str, args))} exited {proc.returncode}, want {check}\n"
                             f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def run_json(*args, timeout=600):
    proc = run_cli(*args, "--json", check=0, timeout=timeout)
    return json.loads(proc.stdout)


@pytest.fixture
def cli():
    return run_cli


def board_toml(name: str, ram: str) -> str:
    """A Cortex-M4 board file of a given SRAM size (256 KiB flash), for budget tests."""
    return f"""
name = "{name}"
core = "cortex-m4"
clock_hz = 48_000_000
simulator = "mps2-an386"
[memory.flash]
origin = 0x08000000
size = "256KiB"
[memory.ram]
origin = 0x20000000
size = "{ram}"
"""


def postgres_url() -> str:
    """The test PostgreSQL (.ci/run starts one and exports its URL): in CI a missing one fails
    the test, elsewhere it skips."""
    url = os.environ.get("EDGEFORMER_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("EDGEFORMER_TEST_POSTGRES is not set: .ci/run must start PostgreSQL and export it")
        pytest.skip("no PostgreSQL (set EDGEFORMER_TEST_POSTGRES=postgresql://...)")
    return url


# ------------------------------------------------ the ONNX node conformance summary, across xdist
_CONFORMANCE: list[dict] = []   # the controller's copy of each worker's summary data


def _conformance_data():
    mod = sys.modules.get("tests.conformance.conftest")   # loaded only where those tests ran
    return mod.summary_data() if mod else None


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)     # set on an xdist worker
    data = _conformance_data()
    if out is not None and data:
        out["conformance"] = json.dumps(data)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):                       # xdist controller: a worker finished
    raw = getattr(node, "workeroutput", {}).get("conformance")
    if raw:
        _CONFORMANCE.append(json.loads(raw))


def pytest_terminal_summary(terminalreporter):
    from tests.conformance.conftest import report

    found = [d for d in [_conformance_data(), *_CONFORMANCE] if d]
    if found:
        merged = {"cases": {}, "results": {}}
        for d in found:
            merged["cases"].update(d["cases"])
            merged["results"].update(d["results"])
        report(merged, terminalreporter.write_line)
