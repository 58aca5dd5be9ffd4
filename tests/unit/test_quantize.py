"""int8 QDQ quantisation: agreement with the float model on real data, per-channel weights,
float accumulator states for streaming models, and clear errors for bad calibration input.

vit-digits is trained for 20 epochs on `digits` (TrainConfig seed 0, ~5 s) so that its
logits are confident enough for top-1 agreement to mean something.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from edgeformer.data import Dataset, load_dataset
from edgeformer.errors import UserError
from edgeformer.export.onnx_export import export_onnx
from edgeformer.export.quantize import calibration_inputs, quantize_int8, recurrent_nodes
from edgeformer.train import TrainConfig, train_model
from edgeformer.zoo import PRESETS

from tests.unit.test_onnx_export import model_for, samples_for


@pytest.fixture(scope="module")
def vit_digits(tmp_path_factory):
    spec, ds = PRESETS["vit-digits"], load_dataset("digits")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on shared 2-core CI, 2 threads ran ~10x slower than 1
    try:
        model, _ = train_model(spec, ds, TrainConfig(epochs=20, seed=0))
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("vit") / "model.onnx"
    export_onnx(model, spec, path, ds.x_test[:4])
    return spec, model, ds, path


def test_vit_digits_int8_agrees_with_float(vit_digits, tmp_path):
    spec, model, ds, path = vit_digits
    calib = calibration_inputs(spec, model, ds, n=256, seed=0)
    assert len(calib) == 256 and calib[0]["input"].shape == (1, 1, 8, 8)
    out = tmp_path / "model.int8.onnx"
    res = quantize_int8(path, out, calib, eval_inputs=ds.x_test)
    assert res["eval_inputs"] == len(ds.x_test)
    assert res["top1_agreement"] >= 0.95, res
    assert res["ops"]["QuantizeLinear"] > 0 and res["ops"]["DequantizeLinear"] > 0

    q = onnx.load(str(out))
    init = {t.name: numpy_helper.to_array(t) for t in q.graph.initializer}
    linear_inputs = {i for n in q.graph.node if n.op_type in ("Conv", "MatMul", "Gemm") for i in n.input}
    per_channel = {}  # weight name -> shape, for int8 weights of Conv/MatMul/Gemm
    for n in q.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in init and n.output[0] in linear_inputs \
                and init[n.input[0]].ndim >= 2:
            w, scale = init[n.input[0]], init[n.input[1]]
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            assert w.dtype == np.int8
            assert scale.shape == (w.shape[axis],), f"{n.input[0]}: scale {scale.shape}, weight {w.shape}"
            if len(n.input) > 2:
                assert not init[n.input[2]].any(), f"{n.input[0]}: weights must be symmetric (zero point 0)"
            per_channel[n.input[0]] = w.shape
    assert any(len(s) == 4 for s in per_channel.values()), "patch Conv weight not per-channel int8"
    assert len(per_channel) >= 5, sorted(per_channel)  # conv, qkv, proj, fc1, fc2, head


def test_bad_calibration_input_is_a_user_error(vit_digits, tmp_path):
    _, _, ds, path = vit_digits
    out = tmp_path / "q.onnx"
    x = ds.x_test[:2]
    with pytest.raises(UserError, match="model's inputs are \\['input'\\]"):
        quantize_int8(path, out, [{"image": x[:1]}])
    with pytest.raises(UserError, match="tensor 'input': got float32 \\(2, 1, 8, 8\\), want float32 \\(1, 1, 8, 8\\)"):
        quantize_int8(path, out, [{"input": x}])
    with pytest.raises(UserError, match="NaN or inf"):
        quantize_int8(path, out, [{"input": np.full((1, 1, 8, 8), np.nan, np.float32)}])
    with pytest.raises(UserError, match="at least one input sample"):
        quantize_int8(path, out, [])
    with pytest.raises(UserError, match="calibration samples have shape"):
        quantize_int8(path, out, np.zeros((3, 1, 9, 9), np.float32))
    assert not out.exists()


def test_lmuformer_step_int8_keeps_accumulators_float(tmp_path):
    name = "lmuformer-tiny"
    spec, model = PRESETS[name], model_for(name)
    path = tmp_path / "model.onnx"
    export_onnx(model, spec, path, samples_for(name, 1))
    # Random sequences stand in for fsdd here (numpy default_rng(5)); only the plumbing is tested.
    x = np.random.default_rng(5).standard_normal((12, *spec.input_shape)).astype(np.float32)
    y = np.arange(12, dtype=np.int64) % 10
    ds = Dataset("random", "sequence", x, y, x, y, 10, spec.input_shape, "default_rng(5)")
    calib = calibration_inputs(spec, model, ds, n=64, seed=0)
    assert len(calib) == 64 and set(calib[0]) == {i.name for i in onnx.load(str(path)).graph.input}

    _, float_state = recurrent_nodes(onnx.load(str(path)))
    assert "block0.lmu_m" in float_state and "pool_sum" in float_state
    assert not any("conv_buf" in k for k in float_state)  # a delay line, safe in int8

    res = quantize_int8(path, tmp_path / "q.onnx", calib, eval_inputs=x[:4])
    assert res["eval_inputs"] == 4 and res["steps"] == 4 * spec.seq_len
    assert 0.0 <= res["top1_agreement"] <= 1.0 and "max_abs_diff_steps" in res
    q = onnx.load(str(tmp_path / "q.onnx"))
    first = {n.input[0]: n.op_type for n in q.graph.node if n.input}
    # Accumulator state enters float arithmetic directly; the conv buffer is quantised first.
    assert first.get("state_in.block0.lmu_m") != "QuantizeLinear"
    assert any(n.op_type == "QuantizeLinear" and n.input[0].startswith("state_in.patch0.conv_buf")
               for n in q.graph.node)
