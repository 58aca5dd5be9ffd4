"""emit/record.py: one emission per graph, read by the flash count, the latency features and
the C writer. Two int8 linear layers, one longer than the packed kernel takes (k = 300 >
QFC_KMAX: the row-major reference kernel) and one it takes (k = 8)."""
from __future__ import annotations

import numpy as np
import pytest

from edgeformer.errors import EdgeformerError
from edgeformer.export.emit import emit_c, emit_nodes
from edgeformer.export.kernel_limits import QFC_KMAX, kernel_stack_bytes
from edgeformer.export.load import load_onnx
from edgeformer.export.passes import LOWERING, run
from edgeformer.nas.latency import graph_features
from tests.native_helpers import plan_graph
from tests.unit.int8_helpers import QDQBuilder

SEED = 5  # provenance: weights from numpy default_rng(SEED)


@pytest.fixture(scope="module")
def lowered():
    rng = np.random.default_rng(SEED)
    b = QDQBuilder()
    x = b.qdq("x", 0.02, -3)
    for k, n in ((300, 8), (8, 16)):
        wq = b.const(rng.integers(-127, 128, (k, n)), np.int8)
        w = b.op("DequantizeLinear", wq, b.const(np.full(n, 0.003)), b.const(np.zeros(n), np.int8), axis=1)
        x = b.qdq(b.op("MatMul", x, w), 0.05, 2)
    graph = run(load_onnx(b.model({"x": (1, 4, 300)}, [x])), LOWERING)
    offsets, arena = plan_graph(graph)
    return graph, offsets, arena


def test_records_name_the_kernel_each_node_runs(lowered):
    graph, offsets, _ = lowered
    em = emit_nodes(graph, offsets)
    fcs = [r for r in em.nodes if r.op == "ef.QMatMul"]
    assert [c.kernel for r in fcs for c in r.calls] == ["ef_qmatmul_s8", "ef_qfc_epi_s8"]
    assert fcs[0].calls[0].params["k"] == 300 > QFC_KMAX and fcs[1].calls[0].params["k"] == 8
    assert [r.stack_bytes for r in fcs] == [0, kernel_stack_bytes("ef_qfc_epi_s8")]
    for r in em.nodes:   # every recorded call is in the node's C, and only its own constants
        assert all(c.kernel in "\n".join(r.code) for c in r.calls)
        assert r.const_bytes == sum(int(em.weights[k][1].nbytes) for k in r.consts)
    assert em.weights_bytes == sum(r.const_bytes for r in em.nodes) > 300 * 8


def test_latency_features_read_the_records(lowered):
    graph, offsets, _ = lowered
    feats = [f for f, n in zip(graph_features(graph, emit_nodes(graph, offsets)), graph.nodes)
             if n.op == "ef.QMatMul"]
    assert feats[0]["fcr_macs"] == 4 * 300 * 8 and "fc_macs" not in feats[0]
    assert feats[1]["fc_macs"] == 4 * 8 * 16 and "fcr_macs" not in feats[1]
    # without an emission (before a plan) the same kernels are chosen
    assert graph_features(graph) == graph_features(graph, emit_nodes(graph, offsets))


def test_writer_writes_the_emission_it_is_given(lowered, tmp_path):
    graph, offsets, arena = lowered
    emit_c(graph, offsets, arena, tmp_path / "a")
    emit_c(graph, offsets, arena, tmp_path / "b", emission=emit_nodes(graph, offsets, "ef_model"))
    for name in ("model.c", "weights.c", "weights.h", "model.h"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with pytest.raises(EdgeformerError, match="prefix"):
        emit_c(graph, offsets, arena, tmp_path / "c", name="net", emission=emit_nodes(graph, offsets))
