"""Issue 17's cores through the real CLI: one small int8 model (vit-digits) built, run against
onnxruntime and profiled on the Cortex-M55 (mps3-an547), M33 (mps2-an505) and M0 (microbit)
stand-ins, and the RP2040 image on the M0 stand-in with its own memory sizes."""
import pytest

from tests.conftest import run_json


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


def test_profile_on_the_new_stand_ins(digits):
    """Every stand-in profiles; the M33 (DSP extension) costs within 5% of the M4 and the M0
    (no SMLAD, no SXTB16) more than both."""
    got = {b: run_json("profile", digits, "--board", b) for b in ("mps3-an547", "b-u585i-iot02a", "mps2-an386",
                                                                   "microbit")}
    for b, p in got.items():
        assert p["mode"] == "qemu" and p["simulator"] == b.replace("b-u585i-iot02a", "mps2-an505"), p
        assert p["instructions_total"] == pytest.approx(sum(x["instructions"] for x in p["layers"]), rel=0.05)
    m33, m4 = got["b-u585i-iot02a"]["instructions_total"], got["mps2-an386"]["instructions_total"]
    assert abs(m33 / m4 - 1) <= 0.05, (m33, m4)
    assert got["microbit"]["instructions_total"] > m4
