"""bench/search_accuracy.py's hand-sized presets for the sequence task: the largest zoo
LMUFormer that fits, and below the zoo's smallest the scaled lmuformer-fsdd rule, each within
the budget by the search's own memory model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgeformer.data import load_dataset

KIB = 1024


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "search_accuracy.py"
    spec = importlib.util.spec_from_file_location("search_accuracy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def rows():
    return load_dataset("fashion-mnist-rows")


def test_the_zoo_shape_where_it_fits(bench, rows):
    name, spec = bench.preset_lmu(rows, 16 * KIB, 128 * KIB)
    assert name == "lmuformer-fsdd (adapted)" and spec.in_features == 28 and spec.seq_len == 28


def test_below_the_zoo_the_scaled_rule_fits_and_is_the_largest_that_does(bench, rows):
    sram, flash = 8 * KIB, 64 * KIB
    name, spec = bench.preset_lmu(rows, sram, flash)
    assert name == "lmuformer-fsdd x0.5 (rule)"
    assert spec.patch_channels == (16, 32) and spec.dim == 32 and spec.memory_order == 16
    memory = bench._memory_model()
    m = memory(spec)
    assert m["sram_bytes"] <= sram and m["flash_bytes"] <= flash
    _, bigger = bench.scaled_lmu(rows, sram, 1 << 30, memory)    # flash is what x0.75 is over
    assert memory(bigger)["flash_bytes"] > flash


def test_nothing_fits_a_budget_below_every_scale(bench, rows):
    assert bench.preset_lmu(rows, 1 * KIB, 8 * KIB) == (None, None)
