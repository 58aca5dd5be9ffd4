"""ASan + UBSan host builds of an int8 ViT and a streaming LMU model run clean on real inputs."""
import pytest

from tests.conftest import run_json


@pytest.mark.parametrize("preset", ["vit-digits", "lmuformer-tiny"])
def test_int8_model_runs_clean_under_asan_ubsan(tmp_path, preset):
    art = tmp_path / "art"
    run_json("export", "--model", preset, "--quantize", "int8", "--out", art)
    # Sanitizer reports abort the harness (non-zero exit), which verify turns into an error.
    result = run_json("verify", art, "--sanitize", "--inputs", "10")
    assert result["passed"], result
