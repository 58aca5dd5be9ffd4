"""edgeformer.export(...) from Python: a user's module, the same code paths as the CLI."""
import json

import numpy as np
import pytest
import torch

import edgeformer
from edgeformer.errors import UserError
from tests.conftest import run_json


class TinyViT(torch.nn.Module):
    """What a user writes in a notebook: conv patches, torch's own encoder, a mean-pooled head."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Conv2d(1, 16, 4, 4)
        self.enc = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0), 1)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.enc(self.patch(x).flatten(2).transpose(1, 2)).mean(1))


@pytest.fixture(scope="module")
def module():
    torch.manual_seed(0)
    return TinyViT().eval()


def test_export_a_module_verify_and_run_on_the_m7(tmp_path, module):
    calib = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    art = edgeformer.export(module, (torch.randn(1, 1, 8, 8),), quantize="float32", calib=calib, out=tmp_path / "a")
    assert art.plan["arena_bytes"] == json.loads((tmp_path / "a" / "plan.json").read_text())["arena_bytes"]
    res = art.verify(inputs=16)
    assert res["passed"] and res["inputs"] == 16 and "calib.npz" in res["input_source"]
    # The API's dict is the CLI's --json for the same artifact.
    cli = run_json("verify", tmp_path / "a", "--inputs", "16")
    assert cli["max_abs_diff"] == res["max_abs_diff"]
    ran = art.run("stm32f746g-disco", inputs=4)
    assert ran["passed"] and ran["simulator"] == "mps2-an500"
    assert art.build("stm32f746g-disco")["arena_bytes"] == art.plan["arena_bytes"]


def test_export_an_onnx_path(tmp_path, module):
    torch.onnx.export(module, (torch.randn(1, 1, 8, 8),), str(tmp_path / "m.onnx"), dynamo=False)
    art = edgeformer.export(tmp_path / "m.onnx", quantize="float32", out=tmp_path / "b")
    assert art.verify(inputs=4)["passed"]


def test_api_errors_are_user_errors(tmp_path, module):
    with pytest.raises(UserError, match="example inputs"):
        edgeformer.export(module, out=tmp_path / "c")
    with pytest.raises(UserError, match="torch.nn.Module"):
        edgeformer.export(42, (torch.zeros(1),), out=tmp_path / "c")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="--force"):
        edgeformer.export(module, (torch.randn(1, 1, 8, 8),), quantize="float32", out=tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").read_text() == "x"
