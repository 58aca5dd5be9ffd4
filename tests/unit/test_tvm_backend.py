"""TVM backend: TVM 0.27's C kernels under our executor and arena, built with the host cc and
compared with onnxruntime on tiny hand-made ONNX models (seeded numpy data)."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("tvm")

from edgeformer.export.onnx_check import session  # noqa: E402
from edgeformer.export.memory import check_plan  # noqa: E402
from edgeformer.export.tvm_backend import emit_tvm_c, relax_static_plan  # noqa: E402
from edgeformer.runtime.host import build_host, find_cc, run_host  # noqa: E402

RNG_SEED = 7


def _model(nodes, inputs, outputs, inits, path):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def mlp_softmax(path):
    """x[4,8] -> MatMul(w[8,16]) + b -> Relu -> MatMul(w2[16,300]) -> Softmax: two kernels with
    intermediates, so the plan has reuse to do and TVM's softmax asks for workspace."""
    rng = np.random.default_rng(RNG_SEED)
    w = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 300)).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 300])], [w, b, w2], path)


def two_outputs(path):
    """Two graph outputs, one of them fed straight from a kernel the other one reads."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Softmax", ["r"], ["s"], axis=1)]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 300])],
                  [helper.make_tensor_value_info("s", TensorProto.FLOAT, [3, 300]),
                   helper.make_tensor_value_info("r", TensorProto.FLOAT, [3, 300])], [], path)


def _check_against_ort(onnx_path, c_dir, tmp_path, n=8):
    exe = build_host(c_dir, tmp_path / "model.exe")
    sess = session(str(onnx_path))
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(RNG_SEED).standard_normal((n, *inp.shape)).astype(np.float32)
    got = run_host(exe, [x])
    for k in range(n):
        want = sess.run(None, {inp.name: x[k]})
        for j, (g, w) in enumerate(zip(got, want)):
            diff = float(np.max(np.abs(g[k] - w)))
            assert diff <= 1e-5, f"sample {k} output {j}: max |diff| {diff}"


@pytest.mark.parametrize("make", [mlp_softmax, two_outputs])
def test_tvm_kernels_match_onnxruntime(tmp_path, make):
    onnx_path = make(tmp_path / "m.onnx")
    plan, bufs, placed = emit_tvm_c(onnx_path, tmp_path / "c")
    check_plan(bufs, placed)
    assert plan["backend"] == "tvm" and plan["kernel_calls"] >= 2
    header = (tmp_path / "c/model.h").read_text()
    assert f"#define EF_ARENA_BYTES {plan['arena_bytes']}" in header
    _check_against_ort(onnx_path, tmp_path / "c", tmp_path)


def test_generated_c_needs_no_tvm_headers_and_profiles_every_call(tmp_path):
    onnx_path = mlp_softmax(tmp_path / "m.onnx")
    plan, _, _ = emit_tvm_c(onnx_path, tmp_path / "c", model_name="tiny")
    kernels = (tmp_path / "c/ef_tvm_kernels.c").read_text()
    assert not re.search(r'#include "tvm/', kernels)
    assert "TVMBackendAllocWorkspace" not in kernels and "ef_tiny_ws_alloc(" in kernels
    assert plan["max_workspace_bytes"] > 0  # softmax's exp buffer (4x300 floats) is workspace
    model_c = (tmp_path / "c/model.c").read_text()
    assert model_c.count("EF_PROFILE_BEGIN(") - 1 == plan["kernel_calls"]  # minus the #define
    assert "int ef_tiny_run(const void *const *inputs, void *const *outputs)" in model_c
    # Each call's workspace is a planned buffer of its own, live at that call only.
    scratch = [b for b in plan["buffers"] if b["name"].startswith("scratch@")]
    assert all(b["first_op"] == b["last_op"] for b in scratch)
    assert max((b["size"] for b in scratch), default=0) == plan["max_workspace_bytes"]


def test_stale_native_kernels_are_removed(tmp_path):
    c_dir = tmp_path / "c"
    c_dir.mkdir()
    (c_dir / "ef_linear.c").write_text("#error native kernel left behind\n")
    onnx_path = mlp_softmax(tmp_path / "m.onnx")
    emit_tvm_c(onnx_path, c_dir)
    assert not (c_dir / "ef_linear.c").exists()
    build_host(c_dir, tmp_path / "model.exe")


def test_relax_static_plan_reads_storage_pools(tmp_path):
    onnx_path = mlp_softmax(tmp_path / "m.onnx")
    peer = relax_static_plan(onnx_path)
    assert peer["planned_bytes"] == sum(peer["storages"]) > 0
    assert peer["output_bytes"] == 4 * 300 * 4  # the returned tensor is left to the VM
    assert peer["total_bytes"] == peer["planned_bytes"] + peer["scratch_bytes"]


def test_name_prefixes_every_symbol_so_two_models_link_into_one_program(tmp_path):
    """export --backend tvm --name: NAME_run, NAME_* macros, NAME_ARENA_SECTION, and prefixed
    kernels, allocator and weights, so two TVM models link together and both compute right."""
    import subprocess

    a, b = mlp_softmax(tmp_path / "a.onnx"), two_outputs(tmp_path / "b.onnx")
    emit_tvm_c(a, tmp_path / "kws", name="kws")
    emit_tvm_c(b, tmp_path / "vision", name="vision")
    h = (tmp_path / "kws/model.h").read_text()
    assert "#define KWS_ARENA_BYTES" in h and "#ifndef KWS_ARENA_SECTION" in h and "#ifndef KWS_MODEL_H" in h
    assert "int kws_run(const void *const *inputs, void *const *outputs);" in h and "EF_" not in h
    assert "KWS_ARENA_SECTION EF_ALIGNED" in (tmp_path / "kws/model.c").read_text()
    main = tmp_path / "main.c"
    main.write_text("\n".join([
        "#include <stdio.h>", '#include "kws/model.h"', '#include "vision/model.h"',
        "static float x[4 * 8], y[4 * 300], s[3 * 300], r[3 * 300], z[3 * 300];",
        "int main(void) {", "    int k;",
        "    const void *ka[] = {x}; void *ko[] = {y}; const void *va[] = {z}; void *vo[] = {s, r};",
        "    for (k = 0; k < 4 * 8; ++k) x[k] = (float)((k % 7) - 3) / 4;",
        "    for (k = 0; k < 3 * 300; ++k) z[k] = (float)((k % 11) - 5) / 2;",
        "    if (kws_init() || vision_init() || kws_run(ka, ko) || vision_run(va, vo)) return 1;",
        "    for (k = 0; k < 4 * 300; ++k) printf(\"%.9g\\n\", (double)y[k]);",
        "    for (k = 0; k < 3 * 300; ++k) printf(\"%.9g\\n\", (double)s[k]);", "    return 0;", "}", ""]))
    srcs = [str(main)] + [str(tmp_path / d / f) for d in ("kws", "vision")
                          for f in ("model.c", "weights.c", "ef_tvm_kernels.c")]
    section = "-DKWS_ARENA_SECTION=__attribute__((section(\".kws_arena\")))"
    exe = tmp_path / "two"
    cc = find_cc()
    subprocess.run([cc, "-O1", "-std=c99", section, *srcs, "-lm", "-o", str(exe)], check=True)
    assert ".kws_arena" in subprocess.run(["objdump", "-h", str(exe)], capture_output=True, text=True).stdout
    got = np.array(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split(), np.float32)
    x = ((np.arange(32) % 7 - 3) / 4).astype(np.float32).reshape(4, 8)
    z = ((np.arange(900) % 11 - 5) / 2).astype(np.float32).reshape(3, 300)
    want = np.concatenate([session(str(a)).run(None, {"x": x})[0].ravel(),
                           session(str(b)).run(None, {"x": z})[0].ravel()])
    assert np.max(np.abs(got - want)) <= 1e-5
