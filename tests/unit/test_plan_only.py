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


def test_lower_and_plan_times_its_stages():
    spec = preset("vit-digits")
    proto, model = _proto(spec)
    low = lower_and_plan(qdq_model(proto, _calibration(spec, model)))
    assert set(low.seconds) == {"passes", "plan"} and all(v >= 0 for v in low.seconds.values())
    assert low.plan["arena_bytes"] == low.placed.arena_bytes and len(low.graph.nodes) == low.plan["ops"]
    assert np.isfinite(low.plan["liveness_bound_bytes"])
