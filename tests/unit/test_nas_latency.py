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
    assert sum(f.get("fc_macs", 0) + f.get("aa_macs", 0) + f.get("aap_macs", 0) + f.get("aas_macs", 0)
               for f in feats) == macs(HELD_OUT)
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
