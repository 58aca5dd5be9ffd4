"""LMUFormer: preset shapes, MACs, whole sequence == T streaming steps, ONNX step export."""
import dataclasses
import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from edgeformer import zoo
from edgeformer.models import StreamingStep, build, macs, step_macs
from edgeformer.specs import LMUFormerSpec

torch.set_num_threads(1)

LMU_PRESETS = [n for n, s in zoo.PRESETS.items() if isinstance(s, LMUFormerSpec)]
STEP_OPS = {"Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Erf", "BatchNormalization", "Greater",
            "Cast", "Concat", "Unsqueeze", "Slice", "Reshape", "Constant", "Identity"}


def _model(spec, seed=0):
    torch.manual_seed(seed)
    return build(spec)


def _stream(model, x):
    """Run `step` over every time step; return the logits after each step (B x T x classes)."""
    state = model.init_state(x.shape[0])
    outs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            outs.append(logits)
    return torch.stack(outs, 1)


def _randomise_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.5)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(mod.num_features, generator=g) * 0.3)


@pytest.mark.parametrize("name", LMU_PRESETS)
def test_preset_shapes_and_state_layout(name):
    spec = zoo.PRESETS[name]
    model = _model(spec).eval()
    out = model(torch.randn(2, *spec.input_shape))
    assert out.shape == (2, spec.num_classes)
    names = model.state_names()
    state = model.init_state(2)
    assert len(names) == len(set(names)) == len(state)
    assert names[-2:] == ["pool_sum", "pool_count"]
    assert all(s.shape[0] == 2 for s in state)
    assert any(n.endswith("lif_v") for n in names) == spec.spiking


def test_macs_by_hand():
    spec = LMUFormerSpec(in_features=13, seq_len=64, patch_channels=(16,), patch_kernel=3, dim=16,
                         memory_order=8, theta=32.0, memory_inputs=1, hidden=16, mlp_ratio=1.0,
                         depth=1, num_classes=10)
    # patch conv 13*16*3 = 624; LMU: W_u 16*1 + memory 1*(8*8 + 8) + W_h (8+16)*16 = 472;
    # mixer 2*16*16 = 512; head 16*10 = 160 -> 1768 per step, x 64 steps.
    assert step_macs(spec) == 1768
    assert macs(spec) == 1768 * 64
    # A projection to dim and an LMU output linear add last*dim and hidden*dim.
    wider = dataclasses.replace(spec, patch_channels=(16, 24), hidden=20)
    assert step_macs(wider) == 1768 + 16 * 24 * 3 + 24 * 16 + (8 + 16) * 4 + 20 * 16


@pytest.mark.parametrize("spiking", [False, True])
def test_streaming_equals_forward_random_inputs(spiking):
    spec = dataclasses.replace(zoo.PRESETS["lmuformer-tiny"], seq_len=24, patch_channels=(8, 12),
                               hidden=20, depth=2, spiking=spiking, lif_threshold=0.5)
    model = _model(spec)
    _randomise_bn(model, seed=3)
    model.eval()
    x = torch.randn(4, 24, 13, generator=torch.Generator().manual_seed(4))
    streamed = _stream(model, x)
    with torch.no_grad():
        for t in (1, 7, 24):  # the running mean after t steps is the forward of the prefix
            diff = (streamed[:, t - 1] - model(x[:, :t])).abs().max().item()
            assert diff < 1e-5, f"after {t} steps: max |stream - forward| = {diff}"


@pytest.fixture(scope="module")
def fsdd():
    from edgeformer.data import load_dataset
    return load_dataset("fsdd")


@pytest.mark.parametrize("name", ["lmuformer-fsdd", "spiking-lmuformer-fsdd"])
def test_streaming_equals_forward_on_fsdd(name, fsdd):
    spec = zoo.PRESETS[name]
    model = _model(spec)
    # A few training steps so that weights and BatchNorm statistics are not at their init.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(fsdd.x_train), torch.from_numpy(fsdd.y_train).long()
    for _ in range(4):
        idx = torch.randint(0, len(xt), (32,), generator=g)
        loss = F.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.from_numpy(fsdd.x_test[:96])
    assert x.shape[1:] == spec.input_shape
    with torch.no_grad():
        want = model(x)
        if spec.spiking:  # the comparison must see real spiking activity
            rate = model.patch[0](x).mean().item()
            assert 0 < rate < 1
    got = _stream(model, x)[:, -1]
    diff = (got - want).abs().max(1).values
    assert diff.max() < 1e-5, f"{(diff >= 1e-5).sum()} of {len(x)} sequences differ; max {diff.max()}"


def _export_step(model, args):
    names = ["x"] + model.state_names()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(StreamingStep(model), args, buf, opset_version=17, dynamo=False,
                          input_names=names,
                          output_names=["logits"] + [f"next.{n}" for n in model.state_names()])
    return buf.getvalue(), names


@pytest.mark.parametrize("name", LMU_PRESETS)
def test_onnx_step_matches_torch(name):
    spec = zoo.PRESETS[name]
    model = _model(spec)
    _randomise_bn(model, seed=5)
    model.eval()
    x = torch.randn(2, 6, spec.in_features, generator=torch.Generator().manual_seed(6)) * 2
    state = model.init_state(2)
    with torch.no_grad():  # start from a non-trivial state: five steps in
        for t in range(5):
            _, state = model.step(x[:, t], state)
        args = (x[:, 5],) + state
        want = StreamingStep(model)(*args)
    blob, names = _export_step(model, args)
    ops = {n.op_type for n in onnx.load_from_string(blob).graph.node}
    assert ops <= STEP_OPS, f"unexpected ops {ops - STEP_OPS}"
    got = ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(
        None, {n: a.numpy() for n, a in zip(names, args)})
    for out_name, g, w in zip(["logits"] + names[1:], got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=0, err_msg=out_name)


def test_onnx_whole_sequence_matches_torch():
    spec = zoo.PRESETS["lmuformer-tiny"]
    model = _model(spec)
    _randomise_bn(model, seed=7)
    model.eval()
    x = torch.randn(2, *spec.input_shape, generator=torch.Generator().manual_seed(8))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["logits"])
    got = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4, rtol=0)
