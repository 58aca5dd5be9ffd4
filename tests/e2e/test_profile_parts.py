"""`edgeformer profile` inside fused row loops: the user's own parts (norms, attention stages,
MLP) with their instructions, summing to the loop's; and markers that cost nothing without
the profiling header (a user's build compiles to the very same object code)."""
import re
import shutil
import subprocess

import pytest

from tests.conftest import run_json

ROLES = {"norm", "attn.qkv", "attn.scores", "attn.softmax", "attn.av", "attn.proj", "mlp"}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    art = tmp_path_factory.mktemp("parts") / "art"
    run_json("export", "--model", "vit-digits", "--quantize", "int8", "--out", art)
    return art


def test_profile_names_the_blocks_parts_and_they_sum_to_the_loop(digits):
    prof = run_json("profile", digits, "--board", "mps2-an500")
    loops = [layer for layer in prof["layers"] if layer.get("parts")]
    assert loops, [layer["name"] for layer in prof["layers"]]
    seen = {p["role"] for layer in loops for p in layer["parts"]}
    assert ROLES <= seen, seen
    for layer in loops:
        assert sum(p["instructions"] for p in layer["parts"]) == layer["instructions"]
        named = [p for p in layer["parts"] if p["role"] != "loop overhead"]
        assert all(p["instructions"] > 0 and p["name"].startswith("blocks.0") for p in named), named
        assert all(abs(p["instructions"]) <= 200 for p in layer["parts"] if p["role"] == "loop overhead")
    # the total still counts each instruction once: the parts are inside their loop's figure
    assert sum(layer["instructions"] for layer in prof["layers"]) <= prof["instructions_total"]
    block = next(g for g in prof["layer_groups"] if g["name"] == "blocks.0")
    assert {p["name"] for p in block["parts"]} >= {"blocks.0/ln1", "blocks.0/attn/qkv", "blocks.0/mlp"}


def test_markers_compile_away_without_the_profiling_header(digits, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
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
