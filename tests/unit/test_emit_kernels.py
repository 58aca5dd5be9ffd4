"""Native C kernels against numpy: small one-node ONNX graphs, emitted and built into one
host executable (one compiler run for the module), inputs from a fixed seed."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.load import load_onnx
from edgeformer.runtime.host import build_host_multi, run_host
from tests.native_helpers import emit_graph

SEED = 1234  # provenance: numpy default_rng(SEED), standard normal inputs


def _model(node, x_shape, y_shape, inits=(), opset=17):
    g = h.make_graph([node], "t", [h.make_tensor_value_info("x", T.FLOAT, x_shape)],
                     [h.make_tensor_value_info("y", T.FLOAT, y_shape)], list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layernorm(x, g, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def _conv2d(x, w, b, stride, pad, groups):
    n, c, hh, ww = x.shape
    co, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (hh + 2 * pad - kh) // stride + 1, (ww + 2 * pad - kw) // stride + 1
    y = np.zeros((n, co, oh, ow), np.float64)
    per = co // groups
    for o in range(co):
        gi = o // per
        for i in range(oh):
            for j in range(ow):
                win = xp[:, gi * cg:(gi + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, o, i, j] = (win * w[o]).sum(axis=(1, 2, 3)) + b[o]
    return y.astype(np.float32)


rng = np.random.default_rng(SEED)
G, B = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
W = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
WB = rng.standard_normal(6).astype(np.float32)

# name -> (model, input shape, numpy reference)
CASES = {
    "softmax_last": (_model(h.make_node("Softmax", ["x"], ["y"], axis=-1), [3, 4, 16], [3, 4, 16]),
                     (3, 4, 16), lambda x: _softmax(x, -1)),
    "softmax_mid": (_model(h.make_node("Softmax", ["x"], ["y"], axis=1), [3, 5, 4], [3, 5, 4]),
                    (3, 5, 4), lambda x: _softmax(x, 1)),
    "layernorm": (_model(h.make_node("LayerNormalization", ["x", "g", "b"], ["y"]), [2, 5, 16],
                         [2, 5, 16], [nh.from_array(G, "g"), nh.from_array(B, "b")]),
                  (2, 5, 16), lambda x: _layernorm(x, G, B)),
    "conv_grouped": (_model(h.make_node("Conv", ["x", "w", "wb"], ["y"], group=2, strides=[2, 2],
                                        pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
                            [1, 4, 9, 9], [1, 6, 5, 5],
                            [nh.from_array(W, "w"), nh.from_array(WB, "wb")]),
                     (1, 4, 9, 9), lambda x: _conv2d(x, W, WB, 2, 1, 2)),
    "transpose": (_model(h.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 3, 1]), [2, 3, 4, 5],
                         [4, 2, 5, 3]),
                  (2, 3, 4, 5), lambda x: x.transpose(2, 0, 3, 1)),
}


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    work = tmp_path_factory.mktemp("kernels")
    for name, (model, _, _) in CASES.items():
        emit_graph(load_onnx(model), work / name, model_name=name)
    return build_host_multi([work / n for n in CASES], work / "kernels.exe",
                            extra_cflags=("-O1", "-Werror"))


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_numpy(exe, name):
    _, shape, ref = CASES[name]
    x = np.random.default_rng(SEED).standard_normal((3, *shape)).astype(np.float32)  # 3 samples
    (y,) = run_host(exe, [x], model=name)
    want = np.stack([ref(xi) for xi in x])
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
