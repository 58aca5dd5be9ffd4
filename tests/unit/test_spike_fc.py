"""spike_fc and ef_spike_fc_s8: a Gemm fed by a LIF threshold (Greater -> Cast -> Q) becomes
ef.SpikeFC, and the event-driven kernel equals the dense reference (ef_qmatmul_s8) and
onnxruntime bit for bit, spikes or not (other values take the int32 path).
Provenance: numpy default_rng(SEED), generators `_qdq_model` and `_cases` below."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from edgeformer.export.emit.ops_spike import pack_spike_fc
from edgeformer.export.load import load_onnx
from edgeformer.export.passes import LOWERING, MEMORY, run
from edgeformer.export.passes.fold_qdq import quantize_multiplier
from edgeformer.export.passes.spike_fc import levels, spike_fc

SEED = 20250115
KERNELS = Path(__file__).resolve().parents[2] / "export" / "kernels"


def _qdq_model(k: int = 40, n: int = 12, spiking: bool = True) -> onnx.ModelProto:
    """v (1, k) float -> [Greater(0.5) -> Cast] -> Q(1/255, -128) -> DQ -> Gemm(int8 per-channel
    weights, int32 bias) -> Q -> DQ -> y (1, n): what a LIF feeding a linear layer exports as."""
    rng = np.random.default_rng(SEED)
    sx, zx = np.float32(1 / 255), np.int8(-128)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    sw = (rng.uniform(0.5, 2.0, n) * 1e-3).astype(np.float32)
    b = rng.integers(-3000, 3000, n).astype(np.int32)
    nodes = [h.make_node("QuantizeLinear", ["s", "sx", "zx"], ["sq"]),
             h.make_node("DequantizeLinear", ["sq", "sx", "zx"], ["sd"]),
             h.make_node("DequantizeLinear", ["w", "sw"], ["wd"], axis=0),
             h.make_node("DequantizeLinear", ["b", "sb"], ["bd"], axis=0),
             h.make_node("Gemm", ["sd", "wd", "bd"], ["g"], transB=1),
             h.make_node("QuantizeLinear", ["g", "sy", "zy"], ["yq"]),
             h.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"])]
    if spiking:
        nodes = [h.make_node("Greater", ["v", "th"], ["fire"]),
                 h.make_node("Cast", ["fire"], ["s"], to=T.FLOAT)] + nodes
    else:
        nodes = [h.make_node("Identity", ["v"], ["s"])] + nodes
    inits = [nh.from_array(a, nm) for a, nm in (
        (np.array(0.5, np.float32), "th"), (np.array(sx), "sx"), (np.array(zx), "zx"), (w, "w"),
        (sw, "sw"), (b, "b"), (sx * sw, "sb"), (np.array(0.05, np.float32), "sy"),
        (np.array(3, np.int8), "zy"))]
    g = h.make_graph(nodes, "spike", [h.make_tensor_value_info("v", T.FLOAT, [1, k])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, n])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_pass_makes_spike_fc_of_a_threshold_input():
    g = run(load_onnx(_qdq_model()), LOWERING + (spike_fc,))
    fc = [n for n in g.nodes if n.op == "ef.SpikeFC"]
    assert len(fc) == 1 and not [n for n in g.nodes if n.op == "ef.QGemm"]
    assert (fc[0].attrs["x_lo"], fc[0].attrs["x_hi"], fc[0].attrs["macs"]) == (-128, 127, 40 * 12)
    assert levels(g)[fc[0].inputs[0]] == frozenset({-128, 127})


def test_pass_leaves_dense_inputs_and_is_pure():
    g = run(load_onnx(_qdq_model(spiking=False)), LOWERING)
    assert [n.op for n in g.nodes if n.op.startswith("ef.Q") or n.op == "ef.SpikeFC"] == ["ef.QGemm"]
    assert spike_fc(g) is g   # nothing to do: the same graph back


def test_spike_fc_c_equals_onnxruntime(tmp_path):
    from edgeformer.export.onnx_check import session
    from edgeformer.runtime.host import build_host, run_host
    from tests.native_helpers import emit_graph
    model = _qdq_model()
    g = run(load_onnx(model), LOWERING + MEMORY + (spike_fc,))   # where it runs in the export
    assert "ef.SpikeFC" in [n.op for n in g.nodes]
    emit_graph(g, tmp_path / "c")
    exe = build_host(tmp_path / "c", tmp_path / "model.exe", extra_cflags=("-O1", "-Werror"))
    rng = np.random.default_rng(SEED + 1)
    v = (rng.uniform(0, 1, (24, 1, 40)) ** np.linspace(0.2, 8, 24)[:, None, None]).astype(np.float32)
    v[0], v[1] = 0.0, 1.0   # none fire, all fire
    sess = session(model.SerializeToString())
    want = np.stack([sess.run(None, {"v": x})[0] for x in v])
    (got,) = run_host(exe, [v])
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, (f"at {bad[0]}: got {got.ravel()[bad[0]]}, want {want.ravel()[bad[0]]}; "
                           f"{bad.size} of {want.size} differ")


DRIVER = r"""
#include <stdio.h>
#include "ef_kernels.h"
#include "ef_spike.h"
#include "cases.h"
int main(void)
{
    int c, i;
    for (c = 0; c < NCASES; ++c) {
        const ef_qmatmul_params p = {M[c], K[c], N[c], -128, YZP[c], -128, 127};
        static int8_t ref[4096], fast[4096], sref[4096];
        if (ef_qmatmul_s8(&p, X[c], W[c], B[c], MULT[c], SHIFT[c], ref)) return 2;
        if (ef_spike_fc_s8(S[c], X[c], fast) || ef_spike_fc_s8_ref(S[c], X[c], sref)) return 3;
        for (i = 0; i < M[c] * N[c]; ++i) printf("%d %d %d %d\n", c, ref[i], fast[i], sref[i]);
    }
    return 0;
}
"""


def _c_array(ctype: str, name: str, rows: list[np.ndarray]) -> str:
    out = []
    for i, a in enumerate(rows):
        out.append(f"static const {ctype} {name}{i}[] = {{{', '.join(str(int(v)) for v in a.ravel())}}};")
    out.append(f"static const {ctype} *const {name}[] = {{{', '.join(f'{name}{i}' for i in range(len(rows)))}}};")
    return "\n".join(out)


def _cases():
    """(m, k, n, x, w, bias, mult, shift, y_zp, epi): spike rows at several rates, silent rows,
    rows with values that are neither level, k up to EF_SPIKE_KMAX, n not a multiple of 8,
    an odd number of tiles (the kernel sums them in pairs)."""
    rng = np.random.default_rng(SEED)
    out = []
    for m, k, n, epi in ((1, 96, 64, None), (3, 37, 13, None), (2, 256, 9, False), (1, 128, 64, False),
                         (4, 5, 1, None), (3, 64, 20, None)):
        rate = rng.uniform(0, 1, (m, 1))
        x = np.where(rng.uniform(0, 1, (m, k)) < rate, 127, -128).astype(np.int8)
        if m > 1:
            x[-1, rng.integers(0, k, 3)] = rng.integers(-128, 128, 3)   # other values
        if m > 2:
            x[0] = -128   # a silent row: the stream's precomputed outputs
        w = rng.integers(-128, 128, (n, k)).astype(np.int8)
        bias = rng.integers(-50000, 50000, n).astype(np.int32)
        ms = [quantize_multiplier(s) for s in rng.uniform(1e-5, 4e-3, n)]
        mult, shift = (np.array(v, np.int32) for v in zip(*ms))
        out.append((m, k, n, x, w, bias, mult, shift, int(rng.integers(-20, 20)), epi))
    return out


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a host C compiler")
def test_kernel_bit_exact_vs_dense_reference(tmp_path):
    cases = _cases()
    streams = []
    for m, k, n, x, w, bias, mult, shift, yzp, epi in cases:
        streams.append(pack_spike_fc(w, bias, -128, yzp, mult, shift, -128, 127, m, epi=epi))
    assert {int(s[6]) for s in streams} == {0, 1}   # both requantisation records are exercised
    hdr = [f"#define NCASES {len(cases)}"]
    for nm, i in (("M", 0), ("K", 1), ("N", 2), ("YZP", 8)):
        hdr.append(f"static const int {nm}[] = {{{', '.join(str(c[i]) for c in cases)}}};")
    hdr += [_c_array("int8_t", "X", [c[3] for c in cases]), _c_array("int8_t", "W", [c[4] for c in cases]),
            _c_array("int32_t", "B", [c[5] for c in cases]), _c_array("int32_t", "MULT", [c[6] for c in cases]),
            _c_array("int32_t", "SHIFT", [c[7] for c in cases]), _c_array("int32_t", "S", streams)]
    (tmp_path / "cases.h").write_text("\n".join(hdr) + "\n")
    (tmp_path / "main.c").write_text(DRIVER)
    exe = tmp_path / "t"
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Werror", f"-I{KERNELS}", f"-I{tmp_path}",
                    str(tmp_path / "main.c"), str(KERNELS / "ef_spike.c"), str(KERNELS / "ef_qlinear.c"),
                    "-lm", "-o", str(exe)], check=True)
    rows = np.array([list(map(int, ln.split())) for ln in
                     subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n") if ln])
    for col, what in ((2, "ef_spike_fc_s8"), (3, "ef_spike_fc_s8_ref")):
        bad = np.flatnonzero(rows[:, col] != rows[:, 1])
        assert bad.size == 0, (f"{what} case {rows[bad[0], 0]} at {bad[0]}: got {rows[bad[0], col]}, "
                               f"want {rows[bad[0], 1]}; {bad.size} of {len(rows)} differ")
