"""export/plan_only.py: its int8 model is quantize_int8's, its plan is the exporter's."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgeformer.export.plan_only import lower_and_plan, qdq_model
from edgeformer.export.quantize import quantize_int8
from edgeformer.nas.memory import _calibration, _proto
from edgeformer.zoo import preset


def _same_model(a: onnx.ModelProto, b: onnx.ModelProto) -> None:
    """Equal nodes, graph I/O and initializer values (a file round trip may spell an
    initializer's storage fields differently: same bytes of data, other proto bytes)."""
    assert list(a.graph.node) == list(b.graph.node)
    assert list(a.graph.input) == list(b.graph.input) and list(a.graph.output) == list(b.graph.output)
    ia = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    assert ia.keys() == ib.keys()
    for k in ia:
        assert ia[k].dtype == ib[k].dtype and ia[k].shape == ib[k].shape, k
        assert ia[k].tobytes() == ib[k].tobytes(), f"initializer {k} differs"


@pytest.mark.parametrize("name", ["vit-digits", "lmuformer-tiny"])
def test_qdq_model_is_quantize_int8s_model(tmp_path, name):
    spec = preset(name)
    proto, model = _proto(spec)
    feeds = _calibration(spec, model)
    f, q = tmp_path / "model.onnx", tmp_path / "model.int8.onnx"
    onnx.save(proto, f)
    quantize_int8(f, q, feeds)
    want = onnx.load(q)
    got = qdq_model(onnx.load(f), feeds)
    _same_model(got, want)
    assert lower_and_plan(got).plan == lower_and_plan(want).plan


@pytest.fixture(scope="module")
def vit_digits_int8():
    spec = preset("vit-digits")
    proto, model = _proto(spec)
    return qdq_model(proto, _calibration(spec, model))


def test_lower_and_plan_times_its_stages(vit_digits_int8):
    low = lower_and_plan(vit_digits_int8)
    assert set(low.seconds) == {"passes", "plan"} and all(v >= 0 for v in low.seconds.values())
    assert low.plan["arena_bytes"] == low.placed.arena_bytes and len(low.graph.nodes) == low.plan["ops"]
    assert np.isfinite(low.plan["liveness_bound_bytes"])


def test_the_plans_emission_is_the_c_the_writer_emits(vit_digits_int8, tmp_path):
    """Emit once: the plan's flash figure is its emission's weights, and the writer given that
    emission writes the same files as emitting afresh (with --name's prefix too)."""
    from edgeformer.errors import EdgeformerError
    from edgeformer.export.emit.clib import c_names
    from edgeformer.export.emit.writer import emit_c

    low = lower_and_plan(vit_digits_int8, prefix=c_names("model", "net").weights)
    em = low.emission
    assert em is not None and em.matches("net", low.placed.offsets)
    assert [r.name for r in em.nodes] == [n.name for n in low.graph.nodes]
    assert low.plan["weights_bytes"] == em.weights_bytes > 0
    args = (low.graph, low.placed.offsets, low.placed.arena_bytes)
    given = emit_c(*args, tmp_path / "given", name="net", emission=em)
    fresh = emit_c(*args, tmp_path / "fresh", name="net")
    assert [p.name for p in given] == [p.name for p in fresh]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(given, fresh))
    with pytest.raises(EdgeformerError, match="prefix net"):   # weights.c would name other arrays
        emit_c(*args, tmp_path / "other", emission=em)
