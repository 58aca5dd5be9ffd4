"""Issue 17's cores through the real CLI: one small int8 model (vit-digits) built, run against
onnxruntime on the Cortex-M55 (mps3-an547), M33 (mps2-an505) and M0 (microbit) stand-ins,
profiled on the M55 and M33 (the M0 profile is in bench/latency.py), and the RP2040 image
on the M0 stand-in with its own memory sizes. The same model
exported for a named core's weight layouts (ops_qlinear.core_features: int8 rows on Helium,
weights + 128 on Armv6-M) runs bit-exact on that core's stand-in."""
import pytest

from tests.conftest import run_json

from edgeformer.export.emit.ops_qlinear import core_features
from edgeformer.export.pipeline import export_artifact, resolve_source
from edgeformer.targets.cores import target


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    art = tmp_path_factory.mktemp("digits") / "art"
    run_json("export", "--model", "vit-digits", "--quantize", "int8", "--out", art)
    return art


def test_boards_lists_the_new_cores():
    rows = {r["name"]: r for r in run_json("boards")["boards"]}
    want = {"mps3-an547": ("cortex-m55", "mps3-an547"), "alif-e7-hp": ("cortex-m55", "mps3-an547"),
            "b-u585i-iot02a": ("cortex-m33", "mps2-an505"), "nrf5340-dk": ("cortex-m33", "mps2-an505"),
            "microbit": ("cortex-m0", "microbit"), "rpi-pico": ("cortex-m0plus", "microbit")}
    assert {n: (rows[n]["core"], rows[n]["simulator"]) for n in want} == want
    assert rows["microbit"]["sram_bytes"] == 16 << 10


@pytest.mark.parametrize("board", ["mps3-an547", "b-u585i-iot02a", "microbit", "rpi-pico"])
def test_vit_digits_int8_runs_bit_exact(digits, board):
    rec = run_json("build", digits, "--board", board)
    if board == "microbit":  # the whole application, stack included, in the nRF51's 16 KiB
        assert rec["ram_bytes"] <= 16 << 10 and rec["stack_bytes"] > 0, rec
    result = run_json("run", digits, "--board", board, "--inputs", "5")
    assert result["passed"] and result["top1_agreement"] == 1.0 and result["max_abs_diff_steps"] == 0, result


@pytest.mark.parametrize("core, board, kernel", [("cortex-m55", "mps3-an547", "ef_qfc_rows_s8"),
                                                 ("cortex-m0", "microbit", "ef_qfc_v6m_s8")])
def test_core_weight_layouts_run_bit_exact(tmp_path, core, board, kernel):
    art = tmp_path / "art"
    with core_features(target(core).features):
        export_artifact(art, resolve_source(None, "vit-digits", None), quantize="int8", log=lambda m: None)
    assert kernel in (art / "c" / "model.c").read_text()
    result = run_json("run", art, "--board", board, "--inputs", "5")
    assert result["passed"] and result["top1_agreement"] == 1.0 and result["max_abs_diff_steps"] == 0, result


def test_profile_on_the_new_stand_ins(digits):
    """The M55 and M33 stand-ins profile, and the M33 (DSP extension) costs within 5% of the
    M4 (the M0's profile: bench/latency.py)."""
    got = {b: run_json("profile", digits, "--board", b) for b in ("mps3-an547", "b-u585i-iot02a", "mps2-an386")}
    for b, p in got.items():
        assert p["mode"] == "qemu" and p["simulator"] == b.replace("b-u585i-iot02a", "mps2-an505"), p
        assert p["instructions_total"] == pytest.approx(sum(x["instructions"] for x in p["layers"]), rel=0.05)
    m33, m4 = got["b-u585i-iot02a"]["instructions_total"], got["mps2-an386"]["instructions_total"]
    assert abs(m33 / m4 - 1) <= 0.05, (m33, m4)
