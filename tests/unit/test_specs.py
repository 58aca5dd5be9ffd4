"""Spec validation and JSON round-trip."""
import json

import pytest

from edgeformer.errors import UserError
from edgeformer.specs import LMUFormerSpec, ViTSpec, load_spec, spec_from_dict, spec_to_json
from edgeformer.zoo import PRESETS, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_json(name):
    spec = PRESETS[name]
    again = spec_from_dict(json.loads(spec_to_json(spec)))
    assert again == spec and type(again) is type(spec)


def test_vit_tiny_ref_matches_contract():
    s = preset("vit-tiny-ref")
    assert (s.in_channels, s.image_size, s.patch_size, s.dim, s.depth, s.heads) == (3, 32, 4, 64, 2, 4)
    assert (s.mlp_ratio, s.low_rank_ratio, s.activation, s.num_classes, s.tokens) == (2.0, 1.0, "gelu", 10, 64)


@pytest.mark.parametrize("field,value,needle", [
    ("dim", 0, "'dim'"),
    ("heads", 3, "'heads'"),          # 64 % 3 != 0
    ("patch_size", 5, "'patch_size'"),  # 32 % 5 != 0
    ("low_rank_ratio", 1.5, "'low_rank_ratio'"),
    ("activation", "swish", "'activation'"),
    ("depth", 2.5, "'depth'"),
])
def test_vit_bad_field_is_named_with_allowed_range(field, value, needle):
    with pytest.raises(UserError, match=needle):
        ViTSpec(**{field: value})


@pytest.mark.parametrize("field,value", [("memory_order", 0), ("theta", 0.0), ("patch_channels", ()),
                                         ("lif_leak", 1.5), ("spiking", "yes")])
def test_lmuformer_bad_field_is_named(field, value):
    with pytest.raises(UserError, match=field):
        LMUFormerSpec(**{field: value})


def test_unknown_family_and_preset_list_the_known_names():
    with pytest.raises(UserError, match="vit, lmuformer"):
        spec_from_dict({"family": "cnn"})
    with pytest.raises(UserError, match="vit-tiny-ref"):
        preset("nope")


def test_search_metadata_is_ignored_and_files_load(tmp_path):
    d = {**PRESETS["vit-digits"].to_dict(), "accuracy": 0.9, "sram_bytes": 1234, "trial": 3}
    p = tmp_path / "best.json"
    p.write_text(json.dumps(d))
    assert load_spec(p) == PRESETS["vit-digits"]
    p.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_spec(p)
    with pytest.raises(UserError, match="does not exist"):
        load_spec(tmp_path / "missing.json")


@pytest.mark.parametrize("key, nearest", [("depht", "depth"), ("num_class", "num_classes"), ("patchsize", "patch_size"),
                                          ("dims", "dim")])
def test_unknown_field_is_refused_with_the_nearest_known(key, nearest):
    d = {**PRESETS["vit-digits"].to_dict(), key: 4}
    with pytest.raises(UserError, match=f"unknown field '{key}'; did you mean '{nearest}'"):
        spec_from_dict(d)


def test_unknown_field_far_from_any_lists_the_fields_and_lmuformer_too():
    with pytest.raises(UserError, match="known fields: .*depth"):
        spec_from_dict({**PRESETS["vit-digits"].to_dict(), "zzzz": 1})
    with pytest.raises(UserError, match="did you mean 'memory_order'"):
        spec_from_dict({**PRESETS["lmuformer-tiny"].to_dict(), "memory_ordr": 16})


def test_a_real_best_json_with_all_its_metadata_loads():
    d = {**PRESETS["vit-digits"].to_dict(), "sram_bytes": 1, "flash_bytes": 2, "accuracy": 0.5, "trial": 3,
         "arena_bytes": 1, "weights_bytes": 1, "est_latency_ms": 1.0, "macs": 1, "dataset": "digits", "epochs": 2,
         "study": "s", "budget": {"sram_bytes": 1}, "supernet_accuracy": 0.4, "final_epochs": 3, "final_run": "x",
         "kendall_tau": 0.5, "objective": "supernet", "supernet_epochs": 10}
    assert spec_from_dict(d) == PRESETS["vit-digits"]


@pytest.mark.parametrize("text, needle", [
    ('{"dim": 64}', "no 'family' field"),
    ('[1, 2]', "JSON object"),
    ('{"family": ["vit"]}', "'family'"),
    ('{"family": "vit", "mlp_ratio": NaN}', "'mlp_ratio'"),
    ('{"family": "vit", "patch_channels": 3}', "unknown field 'patch_channels'"),
    ('{"family": "lmuformer", "patch_channels": {"a": 1}}', "'patch_channels'"),
    ("[" * 100000, "nested too deeply"),
])
def test_spec_files_that_are_not_specs(tmp_path, text, needle):
    p = tmp_path / "s.json"
    p.write_text(text)
    with pytest.raises(UserError, match=needle) as e:
        load_spec(p)
    assert str(p) in str(e.value)


def test_spec_folder_and_binary_file(tmp_path):
    (tmp_path / "best.json").write_text("{}")
    with pytest.raises(UserError, match="is a folder .*give the spec JSON file itself"):
        load_spec(tmp_path)
    (tmp_path / "b.json").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(UserError, match="not valid JSON"):
        load_spec(tmp_path / "b.json")
