"""The search's latency model: features read off the lowered graph, and a fit to real QEMU
profiles that predicts a model it was not fitted on better than the MACs proxy does."""
import shutil

import pytest

from edgeformer.nas import latency
from edgeformer.specs import ViTSpec

pytestmark = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                reason="needs gcc-arm-none-eabi and qemu-system-arm")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    import os
    old = os.environ.get("EDGEFORMER_CACHE")
    os.environ["EDGEFORMER_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("EDGEFORMER_CACHE")
    else:
        os.environ["EDGEFORMER_CACHE"] = old


@pytest.fixture(scope="module")
def vit_model(cache):
    return latency.calibrate("cortex-m7", "vit")


HELD_OUT = ViTSpec(in_channels=1, image_size=16, patch_size=2, dim=24, depth=3, heads=2, mlp_ratio=3.0,
                   low_rank_ratio=0.5, num_classes=10)


def test_row_loop_features_count_body_per_row(tmp_path, cache):
    feats, counts, total = latency.profile_sample(HELD_OUT, "cortex-m7", tmp_path / "a")
    assert len(feats) == len(counts)
    # 64 tokens: every fc of a token-wise row loop runs once per row, so the graph's int8 fc
    # MACs all appear (patch conv + qkv/proj/mlp + head), none twice.
    from edgeformer.models import macs
    assert sum(f.get(k, 0) for f in feats for k in ("fc_macs", "conv_macs", "aa_macs", "aap_macs", "aas_macs")) \
        == macs(HELD_OUT)
    assert all(f["calls"] >= 1 or f.get("row_copy") for f in feats)
    assert sum(counts) <= total


def test_fit_is_close_on_its_calibration_models(vit_model):
    assert vit_model.fit["models"] == len(latency.calibration_specs("vit"))
    assert vit_model.fit["mean_rel_err_total"] < 0.05 and vit_model.fit["max_rel_err_total"] < 0.10
    assert vit_model.coef.get("fc_macs", 0) > 0


def test_predicts_a_held_out_model_better_than_the_macs_proxy(vit_model, tmp_path):
    from edgeformer.models import macs
    from edgeformer.nas.study import CYCLES_PER_MAC

    feats, _, total = latency.profile_sample(HELD_OUT, "cortex-m7", tmp_path / "b")
    est = vit_model.instructions(feats)
    proxy = macs(HELD_OUT) * CYCLES_PER_MAC
    assert abs(est - total) / total < 0.15, (est, total)
    assert abs(est - total) < abs(proxy - total)


def test_cached_per_kernel_source(vit_model):
    again = latency.calibrate("cortex-m7", "vit")
    assert again.coef == vit_model.coef


def test_fit_recovers_per_call_costs_and_the_state_gap():
    """Synthetic layers priced by known coefficients (seeded): NNLS on relative errors gives them
    back, and the gap between ops splits into a per-op part and a per-state-element part."""
    import numpy as np

    rng = np.random.default_rng(7)
    true = {"calls": 20.0, "fc_macs": 0.8, "fc_out": 8.0, "fc_calls": 200.0, "lut": 5.0, "lut_calls": 15.0}
    samples = []
    for _ in range(8):
        feats = []
        for _ in range(int(rng.integers(5, 30))):
            if rng.random() < 0.5:
                macs, out = int(rng.integers(16, 4096)), int(rng.integers(1, 64))
                feats.append({"calls": 1, "fc_macs": macs, "fc_out": out, "fc_calls": 1})
            else:
                feats.append({"calls": 1, "lut": int(rng.integers(4, 256)), "lut_calls": 1})
        state = int(rng.integers(0, 400))
        counts = [round(sum(true.get(k, 0.0) * v for k, v in f.items())) for f in feats]
        feats[0]["state"] = state
        samples.append((feats, counts, sum(counts) + 9 * len(feats) + 5 * state))
    m = latency.fit(samples, "cortex-m7", "synthetic")
    c = {k: m.coef.get(k, 0.0) for k in true}
    for k in ("fc_macs", "fc_out", "lut"):
        assert c[k] == pytest.approx(true[k], rel=0.05), k
    # calls = fc_calls + lut_calls: only the per-class sums are determined
    for k in ("fc_calls", "lut_calls"):
        assert c["calls"] + c[k] == pytest.approx(true["calls"] + true[k], rel=0.05), k
    assert m.gap_per_op == pytest.approx(9, abs=0.5) and m.coef["state"] == pytest.approx(5, abs=0.1)
    assert m.fit["max_rel_err_total"] < 0.01


def test_small_streaming_model_features(tmp_path, cache):
    """lmuformer-tiny's step: LUTs priced by their elements (not the 256-entry table), zero-copy
    aliases apart, the fc tail chunks of k = 39 (kc = 10: 2 single steps per 4 outputs), and
    the step's state in the first op's features."""
    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import PIPELINE, run
    from edgeformer.export.pipeline import export_artifact, resolve_source

    export_artifact(tmp_path / "t", resolve_source(None, "lmuformer-tiny", None), log=lambda m: None)
    graph = run(load_onnx(tmp_path / "t" / "model.int8.onnx"), PIPELINE)
    feats = latency.graph_features(graph)
    luts = [f for n, f in zip(graph.nodes, feats) if n.op == "ef.LUT"]
    assert luts and all(f["lut"] == graph.tensors[n.outputs[0]].numel
                        for n, f in zip([n for n in graph.nodes if n.op == "ef.LUT"], luts))
    assert any(f.get("alias") and "calls" not in f for f in feats)
    assert feats[0]["state"] == sum(graph.tensors[n].numel for n in graph.inputs if n.startswith("state_in."))
    assert any(f.get("fc_tail") == 4 * 2 for f in feats)   # k 39 -> kp 40, kc 10: 4 blocks x 2


def test_profile_sample_uses_the_cores_weight_layout(tmp_path, cache):
    """On the M55 the calibration export is emitted for its Helium rows, as export --board does."""
    from edgeformer.specs import LMUFormerSpec
    spec = LMUFormerSpec(in_features=4, seq_len=8, patch_channels=(8,), patch_kernel=3, dim=8, memory_order=4,
                         theta=8.0, memory_inputs=1, hidden=8, mlp_ratio=1.0, depth=1)
    feats, counts, total = latency.profile_sample(spec, "cortex-m55", tmp_path / "m55")
    assert len(feats) == len(counts) and sum(counts) <= total
    assert "ef_qfc_rows_s8" in (tmp_path / "m55" / "c" / "model.c").read_text()
