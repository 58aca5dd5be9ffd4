"""ViT: preset shapes, the vit-tiny-ref anchors, low rank, spiking MLP, ONNX export."""
import dataclasses
import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from edgeformer import zoo
from edgeformer.models import build, count_params, macs
from edgeformer.models.vit import LowRankLinear
from edgeformer.specs import ViTSpec

torch.set_num_threads(1)

VIT_PRESETS = [n for n, s in zoo.PRESETS.items() if isinstance(s, ViTSpec)]
# Ops the exported ViT may contain (Identity: initializers deduplicated by the exporter).
VIT_OPS = {"Conv", "Reshape", "Transpose", "Slice", "MatMul", "Add", "Mul", "Div", "Softmax",
           "LayerNormalization", "Erf", "Relu", "ReduceMean", "Gemm", "Greater", "Cast",
           "Constant", "Identity"}


def _variant(name, **changes):
    return dataclasses.replace(zoo.PRESETS[name], **changes)


def _model(spec, seed=0):
    torch.manual_seed(seed)
    return build(spec).eval()


@pytest.mark.parametrize("name", VIT_PRESETS)
def test_preset_shapes(name):
    spec = zoo.PRESETS[name]
    out = _model(spec)(torch.randn(2, *spec.input_shape))
    assert out.shape == (2, spec.num_classes)
    assert torch.isfinite(out).all()


def test_vit_tiny_ref_anchors():
    spec = zoo.PRESETS["vit-tiny-ref"]
    model = build(spec)
    # patch 3136 + pos 4096 + 2 blocks x 33472 + final LN 128 + head 650 (ANCHORS.md)
    assert count_params(model) == 74_954
    assert count_params(model.blocks[0]) == 33_472
    assert macs(spec) == 5_440_128


def _hooked_macs(spec):
    """MACs measured by running the model: Linear/Conv hooks plus the two attention matmuls."""
    model = _model(spec)
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features
        else:
            total[0] += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]

    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            mod.register_forward_hook(hook)
    model(torch.zeros(1, *spec.input_shape))
    return total[0] + spec.depth * 2 * spec.tokens ** 2 * spec.dim


@pytest.mark.parametrize("spec", [zoo.PRESETS["vit-tiny-ref"], _variant("vit-fmnist", low_rank_ratio=0.3)])
def test_macs_match_the_executed_model(spec):
    assert macs(spec) == _hooked_macs(spec)


def test_low_rank_factorises_block_linears_only():
    dense = _variant("vit-tiny-ref")
    low = _variant("vit-tiny-ref", low_rank_ratio=0.25)
    model = build(low)
    assert count_params(model) < count_params(build(dense))
    qkv = model.blocks[0].attn.qkv
    assert isinstance(qkv, LowRankLinear)
    assert (qkv.down.in_features, qkv.down.out_features, qkv.up.out_features) == (64, 16, 192)
    assert qkv.down.bias is None and qkv.up.bias is not None
    assert isinstance(model.blocks[1].mlp.fc2, LowRankLinear)
    assert isinstance(model.head, nn.Linear) and isinstance(model.patch, nn.Conv2d)
    assert macs(low) < macs(dense)


def test_spiking_mlp_emits_binary_activations_and_trains():
    spec = _variant("vit-digits", spiking_mlp=True, lif_threshold=0.2)
    model = build(spec)
    seen = []
    model.blocks[0].mlp.act.register_forward_hook(lambda m, i, o: seen.append(o))
    x = torch.randn(4, *spec.input_shape)
    model(x).logsumexp(-1).sum().backward()
    spikes = seen[0]
    assert set(spikes.unique().tolist()) == {0.0, 1.0}
    assert model.blocks[0].mlp.fc1.weight.grad.abs().sum() > 0  # surrogate gradient reaches fc1


def test_relu_activation():
    model = build(_variant("vit-digits", activation="relu"))
    assert isinstance(model.blocks[0].mlp.act, nn.ReLU)


def _export(model, x):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}})
    return buf.getvalue()


@pytest.mark.parametrize("spec", [zoo.PRESETS[n] for n in VIT_PRESETS]
                         + [_variant("vit-digits", spiking_mlp=True, low_rank_ratio=0.5, activation="relu")],
                         ids=VIT_PRESETS + ["vit-digits-spiking-lowrank"])
def test_onnx_export_matches_torch(spec):
    model = _model(spec)
    x = torch.randn(3, *spec.input_shape, generator=torch.Generator().manual_seed(2))
    blob = _export(model, x[:1])  # batch 1 at export, 3 at run: the batch axis is dynamic
    ops = {n.op_type for n in onnx.load_from_string(blob).graph.node}
    assert ops <= VIT_OPS, f"unexpected ops {ops - VIT_OPS}"
    got = ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
