"""torch -> ONNX export: every zoo preset matches torch in onnxruntime, with a clean op set.

Models are untrained (seeded init) with BatchNorm statistics set to non-trivial
values, so a BN that is dropped or folded wrongly shows up in the comparison.
Check inputs are seeded standard-normal draws (generator noted per test).
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edgeformer.errors import EdgeformerError, UserError
from edgeformer.export import onnx_export
from edgeformer.export.onnx_export import TOLERANCE, export_onnx
from edgeformer.models import build
from edgeformer.zoo import PRESETS

# What the IR loader is promised: no shape arithmetic (Shape/Gather/Unsqueeze/Constant/Identity).
ALLOWED_OPS = {"Conv", "Reshape", "Transpose", "MatMul", "Add", "Mul", "Div", "Sub", "Softmax",
               "LayerNormalization", "Erf", "ReduceMean", "Gemm", "Greater", "Cast", "Concat", "Slice"}


def model_for(name: str, seed: int = 0) -> torch.nn.Module:
    """Seeded untrained model whose BatchNorms hold non-trivial running statistics."""
    torch.manual_seed(seed)
    model = build(PRESETS[name])
    gen = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))
            m.weight.data.copy_(0.5 + torch.rand(c, generator=gen))
            m.bias.data.copy_(0.4 * torch.rand(c, generator=gen) - 0.2)
    return model.eval()


def samples_for(name: str, n: int, seed: int = 0) -> np.ndarray:
    """numpy default_rng(seed) standard normal, n x input_shape, float32."""
    return np.random.default_rng(seed).standard_normal((n, *PRESETS[name].input_shape)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_exports_and_matches_torch(name, tmp_path):
    spec = PRESETS[name]
    path = tmp_path / "model.onnx"
    res = export_onnx(model_for(name), spec, path, samples_for(name, 2))
    assert res["check"]["max_abs_diff"] <= TOLERANCE, res["check"]
    assert res["check"]["inputs"] == 2 and res["opset"] == onnx_export.OPSET
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= ALLOWED_OPS, f"unexpected ops {sorted(ops - ALLOWED_OPS)}"
    assert all(d.dim_value > 0 for v in [*proto.graph.input, *proto.graph.output]
               for d in v.type.tensor_type.shape.dim), "graph I/O must have static shapes"
    assert [i.name for i in proto.graph.input] == res["inputs"]
    assert [o.name for o in proto.graph.output] == res["outputs"]
    if spec.family == "vit":
        assert res["inputs"] == ["input"] and res["outputs"] == ["logits"]
        assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, *spec.input_shape]
    else:
        assert res["inputs"][0] == "input" and res["outputs"][0] == "logits"
        assert all(n.startswith("state_in.") for n in res["inputs"][1:])
        assert [n.replace("state_in.", "state_out.") for n in res["inputs"][1:]] == res["outputs"][1:]
        assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, spec.in_features]
        # The step graph streamed over the whole sequence ends where the parallel forward does.
        assert res["check"]["steps"] == spec.seq_len
        assert res["check"]["parallel_max_abs_diff"] <= TOLERANCE, res["check"]
        assert any(k.endswith("lmu_m") for k in res["state_shapes"])


def test_random_samples_when_none_given(tmp_path):
    res = export_onnx(model_for("vit-digits"), PRESETS["vit-digits"], tmp_path / "m.onnx")
    assert res["check"]["source"] == "random(seed=0)"


def test_wrong_sample_shape_is_a_user_error(tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(UserError, match="shape 3x8x8.*expects 1x8x8"):
        export_onnx(model_for("vit-digits"), PRESETS["vit-digits"], path, np.zeros((2, 3, 8, 8), np.float32))
    assert not path.exists()


def test_mismatch_raises_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # any difference, even 0, fails
    path = tmp_path / "m.onnx"
    with pytest.raises(EdgeformerError, match="max \\|diff\\|"):
        export_onnx(model_for("vit-digits"), PRESETS["vit-digits"], path, samples_for("vit-digits", 1))
    assert not path.exists() and not list(tmp_path.iterdir())


def _optimize_reference(raw: onnx.ModelProto) -> onnx.ModelProto:
    """`simplify` with onnxscript's full default optimiser (every default rewrite rule)."""
    import onnxscript.optimizer

    out = onnx.shape_inference.infer_shapes(onnxscript.optimizer.optimize(raw), strict_mode=True)
    return onnx.shape_inference.infer_shapes(onnx_export._views_to_reshape(out), strict_mode=True)


def _sampled_specs(n: int) -> list:
    from edgeformer.data import load_dataset
    from edgeformer.nas.space import sample, space

    rng = np.random.default_rng(7)
    out = []
    for family, dataset in (("vit", "fashion-mnist"), ("vit", "digits"), ("lmuformer", "fsdd"),
                            ("spiking-lmuformer", "fsdd")):
        ds = load_dataset(dataset)
        out += [sample(space(family), ds, rng) for _ in range(n)]
    return out


@pytest.mark.parametrize("which", ["presets", "sampled"])
def test_simplify_equals_onnxscripts_full_optimizer(which):
    """The limited rewrite rule set changes nothing: byte for byte the full optimiser's graph."""
    from edgeformer.nas.memory import _model, _torch_graph

    specs = [PRESETS[n] for n in PRESETS] if which == "presets" else _sampled_specs(4)
    for spec in specs:
        raw = _torch_graph(spec, _model(spec))
        want = _optimize_reference(onnx.ModelProto.FromString(raw.SerializeToString())).SerializeToString()
        assert onnx_export.simplify(raw).SerializeToString() == want, spec
