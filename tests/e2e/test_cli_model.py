"""zoo / train / eval through the real `edgeformer` entry point."""
import json

from tests.conftest import run_cli, run_json


def test_zoo_lists_presets_with_params_and_macs():
    presets = {p["name"]: p for p in run_json("zoo")["presets"]}
    assert {"vit-tiny-ref", "vit-fmnist", "lmuformer-fsdd", "spiking-lmuformer-fsdd"} <= set(presets)
    assert presets["vit-tiny-ref"]["params"] == 74954
    assert presets["vit-tiny-ref"]["macs"] == 5440128
    human = run_cli("zoo", check=0).stdout
    assert "vit-tiny-ref" in human and "74,954" in human


def test_unknown_preset_and_dataset_exit_2_with_the_names(tmp_path):
    p = run_cli("train", "--model", "vit-huge", "--dataset", "digits", "--out", tmp_path / "r", check=2)
    assert "vit-tiny-ref" in p.stderr and "lmuformer-fsdd" in p.stderr
    p = run_cli("train", "--model", "vit-digits", "--dataset", "imagenet", "--out", tmp_path / "r", check=2)
    assert "digits" in p.stderr and "fashion-mnist" in p.stderr and "fsdd" in p.stderr
    assert not (tmp_path / "r").exists()


def test_shape_mismatch_and_missing_npz_exit_2(tmp_path):
    p = run_cli("train", "--model", "vit-tiny-ref", "--dataset", "digits", "--out", tmp_path / "r", check=2)
    assert "3x32x32" in p.stderr and "1x8x8" in p.stderr
    p = run_cli("train", "--model", "vit-digits", "--dataset", f"npz:{tmp_path}/nope.npz", "--out", tmp_path / "r", check=2)
    assert "nope.npz" in p.stderr


def test_train_eval_round_trip_and_refuses_overwrite(tmp_path):
    run = tmp_path / "run"
    m = run_json("train", "--model", "vit-digits", "--dataset", "digits", "--epochs", "2", "--out", run)
    assert {"test_accuracy", "train_seconds", "params"} <= set(m)
    for name in ("spec.json", "model.pt", "metrics.json"):
        assert (run / name).is_file()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    e = run_json("eval", run)
    assert abs(e["test_accuracy"] - m["test_accuracy"]) < 1e-9
    p = run_cli("train", "--model", "vit-digits", "--dataset", "digits", "--epochs", "1", "--out", run, check=2)
    assert "--force" in p.stderr


def test_corrupt_or_mismatched_checkpoint_is_a_clear_error(tmp_path):
    run = tmp_path / "run"
    run_json("train", "--model", "vit-digits", "--dataset", "digits", "--epochs", "1", "--out", run)
    spec = json.loads((run / "spec.json").read_text())
    spec["dim"] = 48
    (run / "spec.json").write_text(json.dumps(spec))
    p = run_cli("eval", run, check=2)
    assert "another spec" in p.stderr
    (run / "model.pt").write_bytes(b"garbage")
    p = run_cli("eval", run, check=2)
    assert "corrupt" in p.stderr
    p = run_cli("eval", tmp_path / "missing", check=2)
    assert "does not exist" in p.stderr
