"""Third-party architectures (tests/corpus, smallest configs) through the real CLI: exported by
torch's own exporters at default settings, then `export --onnx` float32 and int8 (calibrated
from a generated npz) and `verify --target host`.

Four architectures run here, the two exporters alternating, to keep the file within about
three minutes on 2 cores; one of them (nn.MultiheadAttention) also runs int8 on the M7 and M4
QEMU stand-ins. bench/corpus.py runs every model with both exporters, and on the boards.
"""
import json

import pytest

from tests.conftest import run_cli, run_json
from tests.corpus.exporters import export, write_npz
from tests.corpus.models import build

pytest.importorskip("transformers")

# (model, exporter): one of each input kind (image, token ids with an attention mask, audio
# frames, feature sequence), class logits, per-token logits, a hidden state and a two-output
# model, both exporters. GPT-2's legacy export is refused by torch itself (aten::diff in
# transformers' masking utilities), so it runs dynamo. The other architectures (DeiT, AST,
# MobileViT, Llama, nn.TransformerEncoder) pass the same way in bench/corpus.py; at ~30 s of
# CPU each they are left out of `make test`.
# Whisper's encoder and the two-output einsum LM pass the same way in bench/corpus.py (legacy
# and dynamo); at ~26 s each they are left out of `make test` too.
CASES = [("hf-vit", "dynamo"), ("hf-bert-mask", "dynamo"), ("hf-gpt2", "dynamo")]
# nn.MultiheadAttention (legacy exporter) is exported once for this module: verified on the
# host like the others, then its int8 build runs on the M7 and M4 stand-ins.
MHA = ("torch-mha", "legacy")


def _export(tmp, name, exporter):
    """The case through torch's exporter and `export --onnx` float32 and int8: {quantize: (ART, export --json)}."""
    case = build(name, "small")
    onnx_path = export(case, tmp / "src" / "model.onnx", exporter)
    npz = write_npz(case, tmp / "data.npz")
    arts = {}
    for quantize in ("float32", "int8"):
        art = tmp / f"art-{quantize}"
        extra = ["--calib-dataset", f"npz:{npz}"] if quantize == "int8" else []
        arts[quantize] = art, run_json("export", "--onnx", onnx_path, "--quantize", quantize, *extra, "--out", art)
    return case, arts


def _check_exported_and_verified(case, arts):
    for quantize, (art, meta) in arts.items():
        plan = json.loads((art / "plan.json").read_text())
        assert plan["liveness_bound_bytes"] <= plan["arena_bytes"] <= plan["no_reuse_bytes"]
        assert meta["onnx"]["inputs"][0]["name"] == case.input_names[0]
        result = run_json("verify", art, "--target", "host", "--inputs", "8")
        assert result["passed"], (quantize, result)
        assert [o["name"] for o in result["outputs"]] == list(case.output_names)
        if case.kind == "tokens":   # ids stay integers end to end (the npz holds them N x T)
            assert meta["onnx"]["inputs"][0]["dtype"] == "int64"


@pytest.mark.parametrize("name,exporter", CASES, ids=[f"{m}-{e}" for m, e in CASES])
def test_corpus_model_exports_and_verifies_float32_and_int8(tmp_path, name, exporter):
    _check_exported_and_verified(*_export(tmp_path, name, exporter))


@pytest.fixture(scope="module")
def mha(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("torch-mha"), *MHA)


def test_multihead_attention_verifies_and_the_memory_passes_fire(mha):
    """The packed in-projection is split (export/foreign_views.py), so the row loops and token
    overwriting fire: the arena is below the unfused graph's liveness bound."""
    _check_exported_and_verified(*mha)
    for quantize, (art, _) in mha[1].items():
        plan = json.loads((art / "plan.json").read_text())
        assert plan["arena_bytes"] < plan["unfused_liveness_bound_bytes"], (quantize, plan["arena_bytes"])


@pytest.mark.parametrize("board", ["mps2-an500", "mps2-an386"], ids=["m7", "m4"])
def test_multihead_attention_int8_runs_on_the_m7_and_m4_matched_to_onnxruntime(mha, board):
    art, _ = mha[1]["int8"]
    result = run_json("run", art, "--board", board, "--inputs", "4")
    assert result["passed"] and result["inputs"] == 4, result
    assert result["top1_agreement"] == 1.0 and result["max_abs_diff_steps"] <= 1


def test_dynamo_export_with_external_data_and_dynamic_batch(tmp_path):
    """The dynamo exporter's external-data file and a dynamic batch: refused with the flag to
    use, then exported with --input-shape."""
    import torch
    case = build("torch-mha", "small")
    src = tmp_path / "src" / "model.onnx"
    src.parent.mkdir()
    x = torch.randn(2, *case.inputs[0].shape[1:])   # an example batch of 1 would be specialised to 1
    torch.onnx.export(case.module, (x,), str(src), input_names=["x"], output_names=["logits"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},), external_data=True)
    assert (src.parent / "model.onnx.data").is_file()
    p = run_cli("export", "--onnx", src, "--quantize", "float32", "--out", tmp_path / "a", check=2)
    assert "input x" in p.stderr and "--input-shape x=1x16x8" in p.stderr, p.stderr
    assert not (tmp_path / "a").exists()
    run_json("export", "--onnx", src, "--quantize", "float32", "--input-shape", "x=1x16x8", "--out", tmp_path / "b")
    assert not list((tmp_path / "b").glob("*.data")), "the artifact's model.onnx is self-contained"
    assert run_json("verify", tmp_path / "b", "--inputs", "4")["passed"]
