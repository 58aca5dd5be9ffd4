"""Bad inputs on the model, data, board and search side, as an adversarial new user tries them.

Each case runs the real `edgeformer` command group (click's CliRunner, in-process: the same
error handler as the installed entry point, without seconds of imports per case; two cases
also go through the installed entry point) and asserts: the exit code (2 bad input, 1 other),
that stderr is exactly one `error:` line with no traceback, the words that name the thing and
the fix, and that no file or folder appeared or vanished in the working folder.
The export/artifact side of the catalogue is tests/e2e/test_bad_inputs.py.
"""
from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeformer.cli import main
from tests.conftest import run_cli

VIT = {"family": "vit", "in_channels": 1, "image_size": 8, "patch_size": 2, "dim": 16, "depth": 1, "heads": 2,
       "num_classes": 3}
BOARD = """name = "{name}"
core = "cortex-m4"
clock_hz = 48_000_000
simulator = "mps2-an386"
[memory.flash]
origin = 0x08000000
size = "256KiB"
[memory.ram]
origin = {ram_origin}
size = {ram_size}
"""


def _images(n: int, shape=(8, 8), classes: int = 3, dtype=np.float32, fill=None):
    rng = np.random.default_rng(0)  # provenance: seeded pixels, labels cycling 0..classes-1
    if fill is not None:
        x = np.full((n, *shape), fill, dtype)
    elif dtype == np.uint8:
        x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    else:
        x = rng.random((n, *shape), dtype=np.float32)
    return x, (np.arange(n) % classes).astype(np.int64)


def _save_npz(path: Path, n=24, shape=(1, 8, 8), **kw) -> None:
    x, y = _images(n, shape, **kw)
    np.savez(path, x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])


def _lying_npz(path: Path) -> None:
    """x_train.npy's header claims 10^9 x 28 x 28 float32 (2.9 TiB); the zip holds 64 bytes."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": (10**9, 28, 28)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    x, y = _images(4)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)
        for k, a in (("y_train", y), ("x_test", x[:, None]), ("y_test", y)):
            with z.open(f"{k}.npy", "w") as fh:
                np.lib.format.write_array(fh, a)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The working folder every case runs in: specs, datasets, boards, a run and an artifact."""
    from edgeformer.checkpoint import save_run
    from edgeformer.data import load_dataset
    from edgeformer.train import TrainConfig, train_model
    from edgeformer.specs import spec_from_dict

    d = tmp_path_factory.mktemp("ws")
    (d / "spec.json").write_text(json.dumps(VIT))
    (d / "depht.json").write_text(json.dumps({**VIT, "depht": 4}))
    (d / "specs").mkdir()
    (d / "specs" / "best.json").write_text(json.dumps(VIT))
    (d / "broken.json").write_text('{"family": "vit", ')
    (d / "binary.json").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    (d / "list.json").write_text("[1, 2, 3]")
    (d / "nofamily.json").write_text(json.dumps({k: v for k, v in VIT.items() if k != "family"}))
    (d / "cnn.json").write_text(json.dumps({**VIT, "family": "cnn"}))
    (d / "strdim.json").write_text(json.dumps({**VIT, "dim": "16"}))
    (d / "heads.json").write_text(json.dumps({**VIT, "heads": 3}))
    (d / "nan.json").write_text(json.dumps({**VIT, "mlp_ratio": float("nan")}))
    (d / "ref.json").write_text(json.dumps({**VIT, "in_channels": 3, "image_size": 32, "patch_size": 4}))
    (d / "twoclass.json").write_text(json.dumps({**VIT, "num_classes": 2}))
    _save_npz(d / "img.npz")
    _save_npz(d / "u8.npz", shape=(28, 28), classes=10, dtype=np.uint8)           # N x H x W uint8
    _save_npz(d / "small.npz", shape=(12, 12), classes=3, dtype=np.uint8)
    _save_npz(d / "wide.npz", shape=(1, 8, 6))                                     # not square
    _save_npz(d / "seven.npz", shape=(7, 8, 8))                                    # 7 channels
    _save_npz(d / "huge.npz", shape=(1, 8, 8), classes=10, fill=3e38)              # overflows the first matmul
    x, y = _images(24, (20, 6))
    np.savez(d / "seq.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8], kind=np.array("sequence"))
    (d / "text.npz").write_text("x_train,y_train\n1,2\n")
    (d / "empty.npz").write_bytes(b"")
    np.save(d / "one.npy", np.zeros(3))
    np.savez(d / "pickled.npz", x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=y[:4],
             x_test=x[:4], y_test=y[:4])
    np.savez(d / "noy.npz", x_train=x, x_test=x)
    _lying_npz(d / "lying.npz")
    good = (d / "img.npz").read_bytes()
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    (d / "datasets").mkdir()
    _save_npz(d / "datasets" / "mine.npz")
    (d / "afile").write_text("a file, not a folder")
    user = d / "thesis"
    user.mkdir()
    (user / "thesis.tex").write_text("\\chapter{results}")
    for name, origin, size in (("esc", "0x20000000", '"64KiB"'), ("overlap", "0x08000000", '"64KiB"'),
                               ("terabyte", "0x20000000", "1_000_000_000_000"),
                               ("past4g", "0xFFFF0000", '"128KiB"')):
        (d / f"{name}.toml").write_text(BOARD.format(name=name, ram_origin=origin, ram_size=size))
    (d / "esc.toml").write_text(BOARD.format(name="../../escape", ram_origin="0x20000000", ram_size='"64KiB"'))
    (d / "slash.toml").write_text(BOARD.format(name="boards/evil", ram_origin="0x20000000", ram_size='"64KiB"'))
    (d / "dir.toml").mkdir()
    # A trained run (on img.npz) and one with a hand-edited spec.json; an export artifact.
    spec = spec_from_dict(VIT)
    ds = load_dataset(f"npz:{d / 'img.npz'}", model=spec)
    model, metrics = train_model(spec, ds, TrainConfig(epochs=1, batch_size=8))
    save_run(d / "run", spec, model, metrics, ds.name)
    save_run(d / "edited", spec, model, metrics, ds.name)
    (d / "edited" / "spec.json").write_text(json.dumps({**VIT, "depht": 2}))
    save_run(d / "nomodel", spec, model, metrics, ds.name)
    (d / "nomodel" / "model.pt").unlink()
    (d / "art").mkdir()
    (d / "art" / "export.json").write_text(json.dumps({"source": {"kind": "run", "label": "runs/r1"},
                                                       "quantize": "int8", "reference": "model.int8.onnx"}))
    (d / "emptydir").mkdir()
    return d


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _invoke(ws: Path, args) -> tuple[int, str]:
    """`edgeformer ARGS` in ws through the entry point's main() (click usage errors included),
    in-process; returns (exit code, stderr)."""
    here, argv = os.getcwd(), sys.argv
    runner = CliRunner()
    code = 0
    os.chdir(ws)
    try:
        with runner.isolation(env={"COLUMNS": "200"}) as (_out, err, _both):
            sys.argv = ["edgeformer", *map(str, args)]
            try:
                main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception as e:  # escaped the CLI's handler: that is the bug this catalogue looks for
                raise AssertionError(f"edgeformer {' '.join(map(str, args))} raised {e!r}") from e
            stderr = err.getvalue().decode("utf-8", "replace")
    finally:
        os.chdir(here)
        sys.argv = argv
    return code, stderr


T = ["train", "--epochs", "1", "--batch-size", "8"]
S = ["search", "--family", "vit", "--dataset", "npz:img.npz", "--trials", "1", "--epochs", "1", "--no-supernet"]

CASES = [
    # 1. spec files
    ("spec-unknown-key", [*T, "--spec", "depht.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["unknown field 'depht'", "did you mean 'depth'"]),
    ("spec-is-a-folder", [*T, "--spec", "specs", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["is a folder", "best.json"]),
    ("spec-cwd-folder", [*T, "--spec", ".", "--dataset", "npz:img.npz", "--out", "r"], 2, ["is a folder"]),
    ("spec-missing", [*T, "--spec", "nope.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["does not exist"]),
    ("spec-broken-json", [*T, "--spec", "broken.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["not valid JSON"]),
    ("spec-binary", [*T, "--spec", "binary.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["not valid JSON"]),
    ("spec-a-list", [*T, "--spec", "list.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["JSON object"]),
    ("spec-no-family", [*T, "--spec", "nofamily.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["no 'family' field"]),
    ("spec-unknown-family", [*T, "--spec", "cnn.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["'family'", "vit, lmuformer"]),
    ("spec-string-dim", [*T, "--spec", "strdim.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["'dim'"]),
    ("spec-heads-dim", [*T, "--spec", "heads.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["'heads'"]),
    ("spec-nan-field", [*T, "--spec", "nan.json", "--dataset", "npz:img.npz", "--out", "r"], 2, ["'mlp_ratio'"]),
    ("spec-other-shape", [*T, "--spec", "ref.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["expects inputs 3x32x32", "set in_channels=1, image_size=8"]),
    ("spec-too-few-classes", [*T, "--spec", "twoclass.json", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["set num_classes=3"]),
    ("model-and-spec", [*T, "--model", "vit-digits", "--spec", "spec.json", "--dataset", "npz:img.npz",
                        "--out", "r"], 2, ["exactly one of"]),
    ("unknown-preset", [*T, "--model", "vit-huge", "--dataset", "npz:img.npz", "--out", "r"], 2, ["vit-tiny-ref"]),
    ("epochs-zero", [*T[:1], "--model", "vit-digits", "--dataset", "npz:img.npz", "--epochs", "0", "--out", "r"], 2,
     ["--epochs", "1<=x<=10000"]),
    ("no-dataset", ["train", "--model", "vit-digits", "--out", "r"], 2, ["--dataset"]),
    ("search-unknown-family", ["search", "--family", "cnn", "--dataset", "npz:img.npz", "--out", "s"], 2,
     ["--family", "lmuformer"]),
    # 2. learning rate, seed, divergence
    ("lr-nan", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "nan", "--out", "r"], 2,
     ["--lr 'nan'", "finite"]),
    ("lr-inf", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "inf", "--out", "r"], 2, ["--lr"]),
    ("lr-negative", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "-0.1", "--out", "r"], 2,
     ["--lr"]),
    ("lr-zero", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "0", "--out", "r"], 2, ["--lr"]),
    ("lr-word", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "fast", "--out", "r"], 2,
     ["not a number"]),
    ("seed-word", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--seed", "x", "--out", "r"], 2,
     ["--seed"]),
    ("seed-negative", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--seed", "-1", "--out", "r"], 2,
     ["--seed"]),
    ("loss-goes-nan", [*T, "--model", "vit-digits", "--dataset", "npz:huge.npz", "--out", "r"], 1,
     ["training diverged", "nothing was saved", "lower --lr"]),
    # train --out
    ("out-empty", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", ""], 2, ["--out is empty"]),
    ("out-cwd", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", ".", "--force"], 2,
     ["current folder"]),
    ("out-parent", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "..", "--force"], 2,
     ["current folder or one of its parents"]),
    ("out-root", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "/", "--force"], 2, ["/"]),
    ("out-is-a-file", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "afile"], 2, ["is a file"]),
    ("out-under-a-file", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "afile/run"], 2,
     ["is a file"]),
    ("out-users-folder", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "thesis"], 2,
     ["not empty", "--force"]),
    ("out-unwritable", [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", "/proc/edgeformer-run"], 2,
     ["cannot be written"]),
    # 3. npz datasets
    ("npz-folder", [*T, "--model", "vit-digits", "--dataset", "npz:datasets", "--out", "r"], 2,
     ["is a folder (it holds mine.npz)", "!not found", "!does not exist"]),
    ("npz-text-file", [*T, "--model", "vit-digits", "--dataset", "npz:text.npz", "--out", "r"], 2,
     ["not an .npz archive", "text file", "numpy.savez"]),
    ("npz-empty-file", [*T, "--model", "vit-digits", "--dataset", "npz:empty.npz", "--out", "r"], 2, ["is empty"]),
    ("npz-missing", [*T, "--model", "vit-digits", "--dataset", "npz:nope.npz", "--out", "r"], 2, ["not found"]),
    ("npz-single-npy", [*T, "--model", "vit-digits", "--dataset", "npz:one.npy", "--out", "r"], 2,
     ["single array"]),
    ("npz-lying-header", [*T, "--model", "vit-digits", "--dataset", "npz:lying.npz", "--out", "r"], 2,
     ["x_train declares shape (1000000000, 28, 28)", "corrupt or truncated"]),
    ("npz-pickled-objects", [*T, "--model", "vit-digits", "--dataset", "npz:pickled.npz", "--out", "r"], 2,
     ["Python objects"]),
    ("npz-missing-arrays", [*T, "--model", "vit-digits", "--dataset", "npz:noy.npz", "--out", "r"], 2,
     ["missing array(s) y_train, y_test"]),
    ("npz-truncated", [*T, "--model", "vit-digits", "--dataset", "npz:truncated.npz", "--out", "r"], 2,
     ["damaged or truncated zip"]),
    ("npz-no-path", [*T, "--model", "vit-digits", "--dataset", "npz:", "--out", "r"], 2, ["names no file"]),
    ("npz-without-prefix", [*T, "--model", "vit-digits", "--dataset", "img.npz", "--out", "r"], 2, ["npz:PATH"]),
    # 6. presets against datasets of another shape
    ("vit-on-sequences", [*T, "--model", "vit-fmnist", "--dataset", "npz:seq.npz", "--out", "r"], 2,
     ["image model (ViT)", "sequences 20x6", "lmuformer-tiny"]),
    ("lmu-on-images", [*T, "--model", "lmuformer-tiny", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["sequence model (LMUFormer)", "images 1x8x8"]),
    ("vit-non-square", [*T, "--model", "vit-fmnist", "--dataset", "npz:wide.npz", "--out", "r"], 2,
     ["square images"]),
    ("vit-seven-channels", [*T, "--model", "vit-fmnist", "--dataset", "npz:seven.npz", "--out", "r"], 2,
     ["'in_channels'"]),
    ("fixed-reference-preset", [*T, "--model", "vit-tiny-ref", "--dataset", "npz:img.npz", "--out", "r"], 2,
     ["3x32x32", "1x8x8", "fixed reference"]),
    # 5. eval
    ("eval-export-artifact", ["eval", "art"], 2, ["is an export artifact", "runs/r1", "edgeformer verify art", "!train it again"]),
    ("eval-empty-folder", ["eval", "emptydir"], 2, ["not a training run"]),
    ("eval-missing", ["eval", "nope"], 2, ["does not exist"]),
    ("eval-a-file", ["eval", "afile"], 2, ["is a file"]),
    ("eval-edited-spec", ["eval", "edited"], 2, ["spec.json", "'depht'"]),
    ("eval-no-model", ["eval", "nomodel"], 2, ["model.pt is missing", "--force"]),
    ("eval-other-dataset", ["eval", "run", "--dataset", "npz:small.npz"], 2, ["expects inputs 1x8x8", "1x12x12"]),
    # 4. boards (read by search --board) and search budgets
    ("board-name-escape", [*S, "--board", "esc.toml", "--out", "s"], 2, ["'name'", "../../escape"]),
    ("board-name-slash", [*S, "--board", "slash.toml", "--out", "s"], 2, ["'name'"]),
    ("board-ram-on-flash", [*S, "--board", "overlap.toml", "--out", "s"], 2,
     ["'memory.ram.origin' = 0x8000000 overlaps memory.flash"]),
    ("board-terabyte-ram", [*S, "--board", "terabyte.toml", "--out", "s"], 2,
     ["'memory.ram.size'", "plausible"]),
    ("board-past-4gib", [*S, "--board", "past4g.toml", "--out", "s"], 2, ["32-bit address space"]),
    ("board-folder", [*S, "--board", "dir.toml", "--out", "s"], 2, ["is a folder"]),
    ("board-missing", [*S, "--board", "nope.toml", "--out", "s"], 2, ["does not exist"]),
    ("sram-1e26", [*S, "--sram", "1e26", "--flash", "1MiB", "--out", "s"], 2, ["--sram", "1 KiB..64 MiB"]),
    ("sram-26-digits", [*S, "--sram", "1" + "0" * 26, "--flash", "1MiB", "--out", "s"], 2,
     ["not a plausible microcontroller size", "1 KiB..64 MiB"]),
    ("sram-zero", [*S, "--sram", "0", "--flash", "1MiB", "--out", "s"], 2, ["--sram"]),
    ("flash-a-gib", [*S, "--sram", "64KiB", "--flash", "1024MiB", "--out", "s"], 2, ["--flash", "256 MiB"]),
    ("search-out-empty", [*S, "--sram", "64KiB", "--flash", "1MiB", "--out", ""], 2, ["--out is empty"]),
    ("search-out-file", [*S, "--sram", "64KiB", "--flash", "1MiB", "--out", "afile"], 2, ["is a file"]),
    ("search-npz-folder", ["search", "--family", "vit", "--dataset", "npz:datasets", "--sram", "64KiB",
                           "--flash", "1MiB", "--out", "s"], 2, ["is a folder"]),
]


@pytest.mark.parametrize("args, code, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(ws, args, code, needles):
    before = _tree(ws)
    got, stderr = _invoke(ws, args)
    assert got == code, f"exit {got}, want {code}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), f"want one error line:\n{stderr}"
    for n in needles:   # "!words": must not be said
        if n.startswith("!"):
            assert n[1:] not in lines[0], f"{n[1:]!r} in {lines[0]!r}"
        else:
            assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    assert "allow_pickle" not in lines[0]
    after = _tree(ws)
    assert after == before, f"left behind: {sorted(after - before)}, removed: {sorted(before - after)}"


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("args, needle", [
    (["train", "--model", "vit-digits", "--dataset", "npz:lying.npz", "--out", "r"], "declares shape"),
    (["train", "--model", "vit-digits", "--dataset", "npz:img.npz", "--lr", "nan", "--out", "r"], "--lr"),
])
def test_through_the_installed_entry_point(ws, args, needle):
    here = os.getcwd()
    os.chdir(ws)
    try:
        p = run_cli(*args, timeout=120)
    finally:
        os.chdir(here)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert not (ws / "r").exists()


# --- what now works: the model decides how an npz 3-D array is read; presets adapt --------

def test_vit_fmnist_trains_on_n_x_28_x_28_uint8(ws, tmp_path):
    code, stderr = _invoke(ws, [*T, "--model", "vit-fmnist", "--dataset", "npz:u8.npz", "--out", tmp_path / "r",
                                "--json"])
    assert code == 0, stderr
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert (spec["in_channels"], spec["image_size"], spec["num_classes"]) == (1, 28, 10)
    assert "adapted" not in json.loads((tmp_path / "r" / "metrics.json").read_text())


def test_a_preset_adapts_to_another_shape_and_says_so(ws, tmp_path):
    code, stderr = _invoke(ws, [*T, "--model", "vit-fmnist", "--dataset", "npz:small.npz", "--out", tmp_path / "r"])
    assert code == 0, stderr
    assert "adapted preset vit-fmnist to npz:small.npz: image_size 28 -> 12, num_classes 10 -> 3" in stderr
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert (spec["image_size"], spec["num_classes"]) == (12, 3)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["adapted"]["image_size"] == {"preset": 28, "used": 12}
    code, stderr = _invoke(ws, ["eval", tmp_path / "r"])   # eval reads the npz the way the run's model takes it
    assert code == 0, stderr


def test_a_sequence_model_reads_the_same_3d_array_as_sequences(ws, tmp_path):
    code, stderr = _invoke(ws, [*T, "--model", "lmuformer-tiny", "--dataset", "npz:small.npz",
                                "--out", tmp_path / "r"])
    assert code == 0, stderr
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert (spec["seq_len"], spec["in_features"], spec["num_classes"]) == (12, 12, 3)


def test_train_force_into_a_users_folder_keeps_the_users_files(ws, tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    (user / "data").mkdir()
    code, stderr = _invoke(ws, [*T, "--model", "vit-digits", "--dataset", "npz:img.npz", "--out", user, "--force"])
    assert code == 0, stderr
    assert (user / "notes.txt").read_text() == "keep me" and (user / "data").is_dir()
    assert (user / "model.pt").is_file()
