"""boards / build / run / profile / flash through the real CLI, firmware in QEMU."""
import json
import re
import subprocess

import pytest

from edgeformer.runtime.host import find_cc
from edgeformer.runtime.qemu import FirmwareError, run_qemu
from tests.conftest import board_toml, run_cli, run_json

PART_ROLES = {"norm", "attn.qkv", "attn.scores", "attn.softmax", "attn.av", "attn.proj", "mlp"}
TINY_BOARD = board_toml("tiny", "4KiB")  # the 4 KiB stack alone overflows it: over budget for any model


def _export(tmp_path_factory, preset, quantize="int8"):
    art = tmp_path_factory.mktemp(preset) / "art"
    run_json("export", "--model", preset, "--quantize", quantize, "--out", art)
    return art


@pytest.fixture(scope="module")
def vit_ref(tmp_path_factory):
    return _export(tmp_path_factory, "vit-tiny-ref")


@pytest.fixture(scope="module")
def lmu(tmp_path_factory):
    return _export(tmp_path_factory, "lmuformer-fsdd")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return _export(tmp_path_factory, "vit-digits")


def _plan(art):
    return json.loads((art / "plan.json").read_text())


def test_boards_cli():
    rows = run_json("boards")["boards"]
    assert {"stm32f746g-disco", "nucleo-f411re", "nucleo-h743zi", "nrf52840-dk", "stm32f427", "mps2-an500",
            "mps2-an386"} <= {r["name"] for r in rows}
    assert all({"name", "core", "sram_bytes", "flash_bytes", "clock_hz", "simulator"} <= set(r) for r in rows)
    p = run_cli("build", "/nonexistent", "--board", "stm32f999", check=2)
    assert "stm32f999" in p.stderr or "/nonexistent does not exist" in p.stderr


def _build_run(art, board):
    """Build + run on `board`: it must fit, the ELF's arena must be the plan's, outputs must match."""
    rec = run_json("build", art, "--board", board)
    assert rec["arena_bytes"] == _plan(art)["arena_bytes"]  # the ELF's arena symbol is the plan's
    assert rec["ram_bytes"] > rec["arena_bytes"] and rec["flash_bytes"] > _plan(art)["weights_bytes"]
    result = run_json("run", art, "--board", board, "--inputs", "5")
    assert result["inputs"] == 5 and result["passed"], result
    assert result["top1_agreement"] >= 0.99 and result["max_abs_diff_steps"] <= 2
    return board


def test_vit_tiny_ref_int8_on_stm32f746g_disco(vit_ref):
    _build_run(vit_ref, "stm32f746g-disco")


def test_lmuformer_fsdd_streaming_on_nucleo_f411re(lmu):
    board = _build_run(lmu, "nucleo-f411re")
    prof = run_json("profile", lmu, "--board", board)
    assert prof["streaming"] and prof["steps"] == 32 and prof["state_bytes"] > 0
    assert prof["est_step_latency_ms"] == prof["est_latency_ms"]


def test_over_budget_exits_3_with_the_bytes(digits, tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_BOARD)
    p = run_cli("build", digits, "--board", tmp_path / "tiny.toml", check=3)
    assert "does not fit tiny: needs" in p.stderr and "has 4096" in p.stderr
    assert "RAM overflowed by" in p.stderr  # confirmed by the linker
    assert not (digits / "build" / "tiny").exists()


def test_profile_layers_sum_to_total(digits):
    prof = run_json("profile", digits, "--board", "mps2-an500")
    assert prof["board"] == "mps2-an500" and prof["mode"] == "qemu"
    assert prof["macs"] == _plan(digits)["macs"]
    layers = sum(x["instructions"] for x in prof["layers"])
    assert abs(layers - prof["instructions_total"]) <= 0.02 * prof["instructions_total"]
    assert prof["est_latency_ms"] == pytest.approx(prof["instructions_total"] / 25e6 * 1e3)
    assert "instruction-count estimate" in prof["est_latency_basis"]
    assert json.loads((digits / "profile.json").read_text())["instructions_total"] == prof["instructions_total"]
    assert (digits / "profile.png").stat().st_size > 1000
    # inside fused row loops: the user's own parts (norms, attention stages, MLP), summing to the loop
    loops = [layer for layer in prof["layers"] if layer.get("parts")]
    assert loops, [layer["name"] for layer in prof["layers"]]
    assert PART_ROLES <= {p["role"] for layer in loops for p in layer["parts"]}
    for layer in loops:
        assert sum(p["instructions"] for p in layer["parts"]) == layer["instructions"]
        named = [p for p in layer["parts"] if p["role"] != "loop overhead"]
        assert all(p["instructions"] > 0 and p["name"].startswith("blocks.0") for p in named), named
        assert all(abs(p["instructions"]) <= 200 for p in layer["parts"] if p["role"] == "loop overhead")
    block = next(g for g in prof["layer_groups"] if g["name"] == "blocks.0")
    assert {p["name"] for p in block["parts"]} >= {"blocks.0/ln1", "blocks.0/attn/qkv", "blocks.0/mlp"}
    p = run_cli("profile", digits, "--board", "mps2-an386", check=0)
    assert "instructions_total" in p.stdout


def test_flash_without_a_probe_exits_2_and_writes_nothing(digits):
    before = sorted(p.name for p in digits.rglob("*"))
    p = run_cli("flash", digits, "--board", "stm32f746g-disco", "--probe", "stlink", check=2)
    assert "no debug probe found (tried" in p.stderr
    assert sorted(p.name for p in digits.rglob("*")) == before


def test_crashed_and_hung_firmware_are_reported(digits):
    run_json("build", digits, "--board", "mps2-an386")
    elf = digits / "build" / "mps2-an386" / "firmware.elf"
    with pytest.raises(FirmwareError, match="status 2.*short header"):
        run_qemu(elf, "mps2-an386", b"")
    with pytest.raises(FirmwareError, match="hung"):
        run_qemu(elf, "mps2-an386", b"\x01\x00\x00\x00\x01\x00\x00\x00" + b"\0" * 256, timeout=0.001)


def _output_step(art) -> float:
    """One int8 step of the logits: the scale of the DequantizeLinear that produces them."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(art / "model.int8.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = next(n for n in m.graph.node if n.output[0] == m.graph.output[0].name)
    return float(inits[dq.input[1]].reshape(-1)[0])


def test_reference_on_cpu(digits):
    res = run_json("reference", digits, "--device", "cpu", "--engine", "onnxruntime", "--inputs", "8")
    assert res["device_used"] == "cpu" and res["inputs"] == 8 and res["throughput_per_s"] > 0
    # The engine runs onnxruntime with its graph optimisations on (QDQ fused into QLinear ops,
    # rounded its own way), so it may differ from the C by the int8 steps verify allows.
    assert res["max_abs_diff"] <= 2 * _output_step(digits) + 1e-6 and res["top1_agreement"] >= 0.99


def _cuda_reason():
    import onnxruntime
    import torch
    if torch.cuda.is_available() or "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return None
    return "no CUDA device here: torch.cuda.is_available() is False and onnxruntime has no CUDAExecutionProvider"


@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_reference_on_cuda(digits, engine):
    reason = _cuda_reason()
    if reason:
        p = run_cli("reference", digits, "--device", "cuda", "--engine", engine, "--inputs", "4", "--json", check=0)
        assert json.loads(p.stdout)["device_used"] == "cpu" and "ran on cpu" in p.stderr  # falls back, says so
        pytest.skip(reason)
    res = run_json("reference", digits, "--device", "cuda", "--engine", engine, "--inputs", "16")
    assert res["device_used"] == "cuda" and res["top1_agreement"] >= 0.9


def test_markers_compile_away_without_the_profiling_header(digits, tmp_path):
    cc = find_cc()
    src = (digits / "c" / "model.c").read_text()
    assert "EF_PROFILE_PART(" in src and "EF_PROFILE_LOOP(" in src
    bare = re.sub(r"^\s*EF_PROFILE_(PART|LOOP)\(.*\);.*\n", "", src, flags=re.M)
    objs = []
    for tag, text in (("marked", src), ("bare", bare)):
        d = tmp_path / tag
        d.mkdir()
        (d / "model.c").write_text(text)
        subprocess.run([cc, "-O2", "-std=c99", "-c", "model.c", "-I", str(digits / "c"), "-o", "model.o"],
                       cwd=d, check=True)
        objs.append((d / "model.o").read_bytes())
    assert objs[0] == objs[1]
