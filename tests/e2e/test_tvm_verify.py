"""Backend `tvm` end to end: export vit-tiny-ref (and a streaming LMU step), TVM kernels under our executor, host verify
against onnxruntime through the real CLI."""
import json

import pytest

from tests.conftest import run_json

pytest.importorskip("tvm")


def _export_tvm(art, preset, quantize, name=None):
    meta = run_json("export", "--model", preset, "--quantize", quantize, "--backend", "tvm", "--out", art,
                    *(["--name", name] if name else []))
    assert meta["backend"] == "tvm"
    plan = json.loads((art / "plan.json").read_text())
    macro = name.upper() if name else "EF"
    header = (art / "c/model.h").read_text()
    assert f"#define {macro}_ARENA_BYTES {plan['arena_bytes']}" in header
    if name:   # --name reaches every symbol and macro, as with the native backend
        assert f"int {name}_run(" in header and f"#ifndef {macro}_ARENA_SECTION" in header and "EF_" not in header


# lmuformer-tiny: a streaming step (state in/out, tuple output) whose Relax program reuses a
# variable name (two `lv2`s), which once made two tensors share one arena slot; exported with
# --name, which the TVM backend honours like the native one.
@pytest.mark.parametrize("preset,quantize,name", [("vit-tiny-ref", "float32", None), ("vit-tiny-ref", "int8", None),
                                                  ("lmuformer-tiny", "float32", "kws")])
def test_tvm_backend_verifies_on_the_host(tmp_path, preset, quantize, name):
    art = tmp_path / "art"
    _export_tvm(art, preset, quantize, name)
    c = art / "c"
    assert (c / "ef_tvm_kernels.c").is_file() and not (c / "ef_linear.c").exists()
    assert "tvm backend" in (c / "model.c").read_text()
    result = run_json("verify", art, "--target", "host", "--inputs", "10")
    assert result["passed"], result
    if quantize == "float32":
        assert result["max_abs_diff"] <= 1e-4
    else:  # TVM runs QDQ as float with fake-quant rounding: within 2 output steps of ORT
        assert result["top1_agreement"] >= 0.99 and result["max_abs_diff_steps"] <= 2
