"""export.json's signature (export/signature.py) and the Artifact that opens it (runtime/artifact.py):
it agrees with the C it describes, and an artifact without one is told to re-export."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from edgeformer.errors import UserError
from edgeformer.runtime.artifact import open_artifact
from edgeformer.runtime.host import header_signature, read_signature
from tests.conftest import run_cli
from tests.unit.fc_artifact import OUT_SCALE, make_artifact


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    root = tmp_path_factory.mktemp("sig")
    return {io: make_artifact(root / io, io) for io in ("float32", "int8")}


@pytest.mark.parametrize("io", ["float32", "int8"])
def test_the_signature_is_what_the_c_declares(arts, io):
    sig = open_artifact(arts[io]).signature
    c = header_signature(arts[io] / "c")     # model.h as the compiler reads it
    assert (sig["name"], sig["symbol"], sig["macro"], sig["io_in_arena"]) == ("kws", "kws", "KWS", c["io_in_arena"])
    for kind in ("inputs", "outputs"):
        assert [{k: r[k] for k in ("index", "shape", "dtype", "bytes", "in_arena")} for r in sig[kind]] == c[kind]
    model_c = (arts[io] / "c" / "model.c").read_text()
    assert sig["ops"] == len(set(re.findall(r"EF_PROFILE_BEGIN\((\d+)\)", model_c))) >= 1
    assert sig["profile_slots"] == sig["ops"]          # no fused row loop, so no part slots
    assert sig["outputs"][0]["step_scale"] == float(np.float32(OUT_SCALE)) and sig["state_pairs"] == []


def test_io_dtype_int8_records_the_scale_model_h_defines(arts):
    sig = open_artifact(arts["int8"]).signature
    header = (arts["int8"] / "c" / "model.h").read_text()
    x, y = sig["inputs"][0], sig["outputs"][0]
    assert (x["dtype"], x["bytes"], y["dtype"], y["bytes"]) == ("int8", 8, "int8", 4)
    assert f"#define KWS_OUTPUT0_ZERO_POINT {y['zero_point']}" in header
    assert float(re.search(r"#define KWS_OUTPUT0_SCALE (\S+)f", header).group(1)) == pytest.approx(y["scale"], rel=1e-7)
    assert "scale" not in open_artifact(arts["float32"]).signature["inputs"][0]


def test_read_signature_of_an_artifact_is_export_json_s(arts):
    recorded = json.loads((arts["float32"] / "export.json").read_text())["signature"]
    assert read_signature(arts["float32"] / "c") == recorded     # the op count and names: not in model.h


def test_an_artifact_without_a_signature_is_told_to_re_export(arts, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(arts["float32"], old)
    meta = json.loads((old / "export.json").read_text())
    del meta["signature"]
    (old / "export.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="re-export"):
        open_artifact(old)
    p = run_cli("build", old, "--board", "mps2-an386", check=2)
    assert "re-export" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", [lambda s: s["inputs"][0].pop("bytes"), lambda s: s.update(ops="36"),
                                    lambda s: s.pop("state_pairs"), lambda s: s.update(outputs="logits")])
def test_a_damaged_signature_is_named(arts, tmp_path, damage):
    bad = tmp_path / "bad"
    shutil.copytree(arts["float32"], bad)
    meta = json.loads((bad / "export.json").read_text())
    damage(meta["signature"])
    (bad / "export.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="bad signature"):
        open_artifact(bad)
