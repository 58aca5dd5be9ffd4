"""export/foreign_rnn.py: LSTM and GRU unrolled over their static length into MatMul/Gather/
Slice/Sigmoid/Tanh/Mul/Add, numerically equal (float32 rounding) to onnxruntime's own LSTM/GRU
kernels on the original node, for every direction, layout, initial state and GRU's
linear_before_reset; what the rule does not cover stays the op (the loader names it).
Weights and inputs: numpy default_rng(0)."""
import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgeformer.export.foreign_rewrite import rewrite
from edgeformer.export.foreign_rnn import rnn_unroll
from edgeformer.export.onnx_check import session

T, B, I, H = 5, 2, 3, 4


def _rnn(op, direction="forward", layout=0, h0=False, lbr=0, bias=True, extra=None):
    rng = np.random.default_rng(0)
    g, d = {"LSTM": 4, "GRU": 3}[op], 2 if direction == "bidirectional" else 1
    inits = [numpy_helper.from_array(rng.standard_normal((d, g * H, I)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((d, g * H, H)).astype(np.float32) * 0.5, "R")]
    ins = ["x", "W", "R", "B" if bias else "", "", "h0" if h0 else ""]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal((d, 2 * g * H)).astype(np.float32), "B"))
    state = (B, d, H) if layout else (d, B, H)
    if h0:
        inits.append(numpy_helper.from_array(rng.standard_normal(state).astype(np.float32), "h0"))
    if op == "LSTM" and h0:
        ins.append("c0")
        inits.append(numpy_helper.from_array(rng.standard_normal(state).astype(np.float32), "c0"))
    attrs = dict(hidden_size=H, direction=direction, **{"layout": layout, **(extra or {})})
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    outs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    xs = [B, T, I] if layout else [T, B, I]
    ys = [B, T, d, H] if layout else [T, d, B, H]
    graph = helper.make_graph([helper.make_node(op, ins, outs, **attrs)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, xs)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ys)]
                              + [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(state)) for o in outs[1:]],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), xs


def _run(m, x):
    return session(m.SerializeToString()).run(None, {"x": x})


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction,layout,h0,lbr,bias", [
    ("forward", 0, False, 1, True), ("forward", 0, True, 0, True), ("reverse", 0, True, 1, False),
    ("bidirectional", 0, True, 0, True), ("bidirectional", 0, False, 1, True)])
def test_unrolled_rnn_equals_onnxruntime(op, direction, layout, h0, lbr, bias):
    m, xs = _rnn(op, direction, layout, h0, lbr, bias)
    x = np.random.default_rng(1).standard_normal(xs).astype(np.float32)
    ref = _run(m, x)
    out, counts = rewrite(m)
    assert counts.get("rnn_unroll") == 1 and op not in {n.op_type for n in out.graph.node}
    for got, want in zip(_run(out, x), ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("extra", [{"clip": 1.0}, {"activations": ["Sigmoid", "Relu", "Tanh"]},
                                   {"input_forget": 1}, {"layout": 1}])
def test_what_the_unroll_does_not_cover_stays_the_op(extra):
    m, _ = _rnn("LSTM", extra=extra)
    assert rnn_unroll(m) == 0


def test_torch_lstm_and_gru_from_both_exporters_run_on_the_host_like_onnxruntime(tmp_path):
    """nn.LSTM -> nn.GRU (batch_first) classifier, each exporter, export --onnx float32 + verify."""
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.actions import verify_artifact

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(6, 8, batch_first=True)
            self.gru = torch.nn.GRU(8, 8, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.gru(self.lstm(x)[0])[0][:, -1])

    torch.manual_seed(0)
    net = Net().eval()
    for dynamo in (False, True):
        src = tmp_path / f"rnn-{dynamo}.onnx"
        torch.onnx.export(net, (torch.randn(1, 6, 6),), str(src), input_names=["x"], output_names=["y"],
                          dynamo=dynamo)
        art = tmp_path / f"art-{dynamo}"
        meta = export_artifact(art, resolve_source(None, None, str(src)), quantize="float32", log=lambda *a: None)
        assert meta["onnx"]["rewrites"].get("rnn_unroll") == 2
        res = verify_artifact(art, n=5)
        assert res["passed"] and res["max_abs_diff"] < 1e-4, res
