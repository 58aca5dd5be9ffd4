"""The C library's names (export --name), provenance, streaming state API and build files,
on a tiny hand-made streaming step (inputs `input`, `state_in.0`; outputs `logits`,
`state_out.0`, as export/onnx_export.py names them). Data: fixed small arrays (no RNG)."""
from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from edgeformer.errors import UserError
from edgeformer.export.emit import emit_c
from edgeformer.export.emit.clib import c_names, state_pairs
from edgeformer.export.load import load_onnx
from edgeformer.runtime.cross import fw_config_h
from edgeformer.runtime.host import build_host, build_host_multi, find_cc, read_signature, run_host
from tests.native_helpers import plan_graph


def _step_model(path):
    io = lambda n: h.make_tensor_value_info(n, T.FLOAT, [1, 4])  # noqa: E731
    g = h.make_graph([h.make_node("Relu", ["input"], ["logits"], name="relu"),
                      h.make_node("Add", ["input", "state_in.0"], ["state_out.0"], name="acc")], "step",
                     [io("input"), io("state_in.0")], [io("logits"), io("state_out.0")])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(path))
    return path


def _emit(tmp_path, name=None, sub="c", provenance=None):
    graph = load_onnx(str(_step_model(tmp_path / "step.onnx")))
    offsets, arena = plan_graph(graph)
    emit_c(graph, offsets, arena, tmp_path / sub, name=name, provenance=provenance)
    return tmp_path / sub


def test_names_default_and_named():
    d, n = c_names(), c_names(name="kws")
    assert (d.sym, d.macro, d.guard, d.lib) == ("ef_model", "EF", "EF_MODEL_H", "ef_model")
    assert (n.sym, n.macro, n.guard, n.lib) == ("kws", "KWS", "KWS_MODEL_H", "kws")
    for bad in ("2fast", "a-b", "naïve"):
        with pytest.raises(UserError, match="C identifier"):
            c_names(name=bad)


def test_named_header_has_every_macro_prefixed_and_reads_back(tmp_path):
    c = _emit(tmp_path, name="kws")
    text = (c / "model.h").read_text()
    for want in ("#ifndef KWS_MODEL_H", "#define KWS_ARENA_BYTES", "#define KWS_INPUT0_BYTES 16",
                 "#define KWS_OUTPUT0_BYTES 16", "int kws_init(void);", "int kws_run(", "#define KWS_NUM_STATES 1",
                 "#define KWS_STATE0_INPUT 1", "#define KWS_STATE0_OUTPUT 1", "void kws_reset(void *const *inputs);",
                 "#ifndef KWS_ARENA_SECTION"):
        assert want in text, want
    assert "EF_" not in text and "ef_model" not in text
    sig = read_signature(c)
    assert (sig["name"], sig["symbol"], sig["macro"]) == ("kws", "kws", "KWS")
    assert [i["bytes"] for i in sig["inputs"]] == [16, 16] and sig["outputs"][0]["shape"] == [1, 4]
    assert "#define FW_MODEL_RUN kws_run" in fw_config_h(sig, True)


def test_default_names_stay(tmp_path):
    c = _emit(tmp_path)
    sig = read_signature(c)
    assert (sig["name"], sig["symbol"], sig["macro"]) == ("model", "ef_model", "EF")
    text = (c / "model.h").read_text()
    assert "int ef_model_run(" in text and "#define EF_ARENA_BYTES" in text and "#ifndef EF_MODEL_H" in text
    assert "#define FW_MODEL_INIT ef_model_init" in fw_config_h(sig, False)
    assert not (c / "ef_model.h").exists()          # the wrapper header is for --name only


def test_provenance_records_reference_sha_and_the_given_source(tmp_path):
    c = _emit(tmp_path, name="kws", provenance={"source": "runs/kws-7", "source_sha256": "ab" * 32})
    sha = hashlib.sha256((tmp_path / "step.onnx").read_bytes()).hexdigest()
    for f in ("model.h", "model.c", "weights.c"):
        text = (c / f).read_text()
        assert f"step.onnx (sha256 {sha})" in text and "Source model: runs/kws-7" in text
        assert "Do not edit" in text and "edgeformer 0.1.0" in text and str(tmp_path) not in text


def test_state_pairs_by_name():
    ins = [("input", "float32", (1, 4), 16), ("state_in.a", "float32", (1, 2), 8), ("state_in.b", "float32", (3,), 12)]
    outs = [("logits", "float32", (1, 10), 40), ("state_out.b", "float32", (3,), 12), ("state_out.a", "float32", (1, 2), 8)]
    assert [(p.inp, p.out, p.name) for p in state_pairs(ins, outs)] == [(1, 2, "a"), (2, 1, "b")]
    assert state_pairs(ins[:1], outs[:1]) == []


def test_named_model_runs_and_two_link_into_one_executable(tmp_path):
    a, b = _emit(tmp_path, name="alpha", sub="a"), _emit(tmp_path, name="beta", sub="b")
    x, s = np.array([[-1, 2, -3, 4]], np.float32), np.array([[10, 20, 30, 40]], np.float32)
    exe = build_host(a, tmp_path / "one")
    y, s2 = run_host(exe, [x, s])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(s2, x + s)
    both = build_host_multi([a, b], tmp_path / "both")     # distinct names: no duplicate symbols
    for m in ("alpha", "beta"):
        np.testing.assert_array_equal(run_host(both, [x, s], model=m)[1], x + s)


def test_library_sources_and_example_compile_warning_free(tmp_path):
    c = _emit(tmp_path, name="kws")
    for f in ("CMakeLists.txt", "model.mk", "README.md", "example/main.c", "zephyr/module.yml",
              "zephyr/CMakeLists.txt", "zephyr/Kconfig", "kws.h"):
        assert (c / f).is_file(), f
    readme = (c / "README.md").read_text()
    assert "kws_reset(inputs);" in readme and "kws_carry_state(inputs, outputs);" in readme
    exe, cc = tmp_path / "example", find_cc()
    objs = []
    for src in ("example/main.c", "model.c", "weights.c"):   # ours -Werror; the kernels have their own tests
        objs.append(tmp_path / (src.replace("/", "_") + ".o"))
        r = subprocess.run([cc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-c",
                            "-DKWS_ARENA_SECTION=__attribute__((used))", str(c / src), "-o", str(objs[-1])],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([cc, "-std=c99", "-O1", *map(str, objs), *map(str, sorted(c.glob("ef_*.c"))), "-o", str(exe),
                        "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    # input0 = ((k % 17) - 8) / 8 = [-1, -0.875, -0.75, -0.625] every step: relu -> zeros
    assert out.startswith("output0 logits: 0 0 0 0")
