"""lif_fuse and ef_lif_s8: a LIF neuron's float glue (Mul, Sub, Mul, DQ, Add, Greater, Cast,
Q, DQ) and a stateless threshold (DQ, Greater, Cast, Reshape, Q) each become one ef.LIF, the
spike_fc pass then sees its int8 spikes, and the host C equals onnxruntime bit for bit on the
membrane, both float spike forms and the layers fed by the spikes.
Provenance: numpy default_rng(SEED), generator `_model` and the inputs in the C test."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.load import load_onnx
from edgeformer.export.passes import LOWERING, MEMORY, run
from edgeformer.export.passes.lif_fuse import lif_fuse
from edgeformer.export.passes.spike_fc import spike_fc

SEED = 20261203
N, M = 40, 12      # neurons of each LIF, outputs of the layers they feed
SPIKING = (lif_fuse, spike_fc)


def _gemm(rng, x: str, y: str, tag: str) -> tuple[list, list]:
    """DQ(x_q) -> Gemm(int8 per-channel weights, int32 bias) -> Q -> DQ -> y."""
    w = rng.integers(-127, 128, (M, N)).astype(np.int8)
    sw = (rng.uniform(0.5, 2.0, M) * 1e-3).astype(np.float32)
    b = rng.integers(-3000, 3000, M).astype(np.int32)
    nodes = [h.make_node("DequantizeLinear", [x, "ss", "zs"], [f"{tag}_xd"]),
             h.make_node("DequantizeLinear", [f"{tag}_w", f"{tag}_sw"], [f"{tag}_wd"], axis=0),
             h.make_node("DequantizeLinear", [f"{tag}_b", f"{tag}_sb"], [f"{tag}_bd"], axis=0),
             h.make_node("Gemm", [f"{tag}_xd", f"{tag}_wd", f"{tag}_bd"], [f"{tag}_g"], transB=1),
             h.make_node("QuantizeLinear", [f"{tag}_g", "sy", "zy"], [f"{tag}_yq"]),
             h.make_node("DequantizeLinear", [f"{tag}_yq", "sy", "zy"], [y])]
    inits = [nh.from_array(w, f"{tag}_w"), nh.from_array(sw, f"{tag}_sw"), nh.from_array(b, f"{tag}_b"),
             nh.from_array((np.float32(1 / 255) * sw).astype(np.float32), f"{tag}_sb")]
    return nodes, inits


def _model() -> onnx.ModelProto:
    """A streaming LIF (state v, s) and a stateless threshold, each feeding a Gemm, as a
    QDQ model exports them (lmuformer.py's _Act, vit.py's Spike)."""
    rng = np.random.default_rng(SEED)
    f = h.make_node
    lif = [f("QuantizeLinear", ["x", "sx", "zx"], ["xq"]), f("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
           f("Mul", ["state_in.l.lif_v", "leak"], ["vl"]), f("Sub", ["one", "state_in.l.lif_s"], ["keep"]),
           f("Mul", ["vl", "keep"], ["vk"]), f("Add", ["vk", "xd"], ["state_out.l.lif_v"]),
           f("Greater", ["state_out.l.lif_v", "th"], ["fire"]), f("Cast", ["fire"], ["sf"], to=T.FLOAT),
           f("QuantizeLinear", ["sf", "ss", "zs"], ["sq"]),
           f("DequantizeLinear", ["sq", "ss", "zs"], ["state_out.l.lif_s"])]
    thr = [f("QuantizeLinear", ["x2", "sx", "zx"], ["x2q"]), f("DequantizeLinear", ["x2q", "sx", "zx"], ["x2d"]),
           f("Greater", ["x2d", "th"], ["fire2"]), f("Cast", ["fire2"], ["spk2"], to=T.FLOAT),
           f("Reshape", ["spk2", "shape"], ["spk2r"]), f("QuantizeLinear", ["spk2r", "ss", "zs"], ["s2q"])]
    g1, i1 = _gemm(rng, "sq", "y", "a")
    g2, i2 = _gemm(rng, "s2q", "y2", "b")
    consts = [(np.float32(0.02), "sx"), (np.int8(-3), "zx"), (np.float32(0.5), "leak"),
              (np.float32(1.0), "one"), (np.float32(0.75), "th"), (np.float32(1 / 255), "ss"),
              (np.int8(-128), "zs"), (np.float32(0.05), "sy"), (np.int8(3), "zy"),
              (np.array([1, N], np.int64), "shape")]
    inits = [nh.from_array(np.array(a), nm) for a, nm in consts] + i1 + i2
    vi = h.make_tensor_value_info
    ins = [vi(n, T.FLOAT, [1, N]) for n in ("x", "state_in.l.lif_v", "state_in.l.lif_s", "x2")]
    outs = [vi("y", T.FLOAT, [1, M]), vi("y2", T.FLOAT, [1, M]), vi("spk2", T.FLOAT, [1, N]),
            vi("state_out.l.lif_v", T.FLOAT, [1, N]), vi("state_out.l.lif_s", T.FLOAT, [1, N])]
    m = h.make_model(h.make_graph(lif + g1 + thr + g2, "lif", ins, outs, inits),
                     opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture(scope="module")
def model():
    return _model()


def test_fuses_both_forms_and_spike_fc_follows(model):
    g = run(load_onnx(model), LOWERING + SPIKING)
    ops = [n.op for n in g.nodes]
    assert not {"Greater", "Cast", "Sub", "Mul", "Add"} & set(ops), ops
    lifs = {n.outputs[0]: n for n in g.nodes if n.op == "ef.LIF"}
    assert set(lifs) == {"state_out.l.lif_v", "spk2"}
    a = lifs["state_out.l.lif_v"].attrs
    assert (a["state"], a["s_f"], a["s_q"], a["s_dq"], a["q_lo"], a["q_hi"]) == (1, False, True, True, -128, 127)
    assert lifs["state_out.l.lif_v"].outputs[2] == "state_out.l.lif_s" and (a["d_lo"], a["d_hi"]) == (0.0, 1.0)
    b = lifs["spk2"].attrs   # the Reshape -> Q after the Cast is absorbed: same bytes
    assert (b["state"], b["v_out"], b["s_f"], b["s_q"], b["s_dq"]) == (0, False, True, True, False)
    assert "Reshape" not in ops and ops.count("ef.SpikeFC") == 2


def test_leaves_other_thresholds_and_is_pure(model):
    g = run(load_onnx(model), LOWERING)
    # Greater(th, v) is v < th: not a LIF; the pass must leave it (and the graph) alone.
    swapped = g.replace(nodes=tuple(n if n.op != "Greater" else
                                    n.__class__(n.op, n.name, n.inputs[::-1], n.outputs, n.attrs)
                                    for n in g.nodes))
    assert lif_fuse(swapped) is swapped
    assert lif_fuse(lif_fuse(g)).nodes == lif_fuse(g).nodes


def test_host_c_equals_onnxruntime(model, tmp_path):
    from edgeformer.export.onnx_check import session
    from edgeformer.runtime.host import build_host, run_host
    from tests.native_helpers import emit_graph
    g = run(load_onnx(model), LOWERING + MEMORY + SPIKING)   # where they run in the export
    ops = [n.op for n in g.nodes]
    # dup_tokenwise gave the Gemm its own Greater -> Cast -> Q: one more int8 output, no float op.
    assert ops.count("ef.LIF") == 2 and ops.count("ef.SpikeFC") == 2 and "Greater" not in ops, ops
    assert max(n.attrs.get("q_copies", 0) for n in g.nodes if n.op == "ef.LIF") == 1
    emit_graph(g, tmp_path / "c")
    exe = build_host(tmp_path / "c", tmp_path / "model.exe", extra_cflags=("-O1", "-Werror"))
    rng = np.random.default_rng(SEED + 1)
    b = 32
    x = rng.uniform(-2.5, 2.5, (b, 1, N)).astype(np.float32)
    v = rng.uniform(-2, 2, (b, 1, N)).astype(np.float32)
    s = (rng.uniform(0, 1, (b, 1, N)) < 0.3).astype(np.float32)
    s[-1] = rng.uniform(-1, 2, (1, N))           # a state that is not a spike: exact all the same
    x[0], v[0], s[0] = np.linspace(0.7, 0.8, N), 0.0, 0.0   # around the threshold (0.75)
    x2 = rng.uniform(-1, 2, (b, 1, N)).astype(np.float32)
    sess = session(model.SerializeToString())
    names = [o.name for o in sess.get_outputs()]
    want = [np.stack(w) for w in zip(*(sess.run(None, {"x": x[i], "state_in.l.lif_v": v[i],
                                                       "state_in.l.lif_s": s[i], "x2": x2[i]})
                                        for i in range(b)))]
    got = run_host(exe, [x, v, s, x2])
    for nm, gt, wt in zip(names, got, want):
        gt, wt = gt.reshape(wt.shape), wt
        bad = np.flatnonzero(gt.view(np.uint32).ravel() != wt.view(np.uint32).ravel())
        assert bad.size == 0, (f"{nm} at {bad[0]}: got {gt.ravel()[bad[0]]}, want {wt.ravel()[bad[0]]}; "
                               f"{bad.size} of {wt.size} differ")
    assert 0 < want[names.index("spk2")].mean() < 1 and 0 < want[names.index("state_out.l.lif_s")].mean() < 1
