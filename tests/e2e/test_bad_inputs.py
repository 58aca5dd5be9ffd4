"""Bad inputs to export and the artifact commands, as an adversarial new user tries them.

Every case goes through the real CLI and asserts: the exit code (2 bad input, 3 does not fit),
exactly one `error:` line on stderr and no traceback, that nothing of ours is left behind
(no hidden temp folders), and for `--out` cases that every file of the user's survives.
The model/data/board side of the catalogue is tests/e2e/test_bad_inputs_model.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import EDGEFORMER, run_cli

PRESET = "vit-digits"   # the smallest ViT: every export here takes a few seconds


def assert_one_line_error(proc, code: int, *needles: str) -> str:
    err = proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, want {code}\n{err[-2000:]}"
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, f"want one error line:\n{err}"
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def no_temp_left(folder) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".") and p.is_dir()]
    assert not left, f"hidden temp folders left behind: {left}"


def user_files(folder):
    """A user's files: a thesis, a nested folder, a hidden file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {folder / "thesis.tex": "\\chapter{results}", folder / "data" / "raw.csv": "1,2,3",
             folder / ".notes": "keep me"}
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return files


def survives(files) -> None:
    for p, text in files.items():
        assert p.is_file() and p.read_text() == text, f"{p} was destroyed"


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    """One float32 artifact of the smallest preset; cases copy it before they break it."""
    path = tmp_path_factory.mktemp("good") / "art"
    run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", path, check=0)
    return path


@pytest.fixture(scope="module")
def int8_art(tmp_path_factory):
    path = tmp_path_factory.mktemp("good8") / "art"
    run_cli("export", "--model", PRESET, "--quantize", "int8", "--out", path, check=0)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A trained run (one epoch on digits) inside a folder of sibling runs."""
    runs = tmp_path_factory.mktemp("runs")
    run_cli("train", "--model", PRESET, "--dataset", "digits", "--epochs", "1", "--out", runs / "r1", check=0)
    user_files(runs / "sibling")
    return runs / "r1"


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- export never destroys


def test_export_run_onto_itself_is_refused_and_the_run_survives(run_dir):
    before = snapshot(run_dir.parent)
    p = run_cli("export", run_dir, "--out", run_dir)
    assert_one_line_error(p, 2, "source")
    assert snapshot(run_dir.parent) == before
    no_temp_left(run_dir.parent)


def test_export_into_the_folder_of_runs_is_refused(run_dir):
    before = snapshot(run_dir.parent)
    p = run_cli("export", run_dir, "--out", run_dir.parent)
    assert_one_line_error(p, 2)
    assert snapshot(run_dir.parent) == before


def test_export_into_a_users_folder_is_refused(tmp_path):
    files = user_files(tmp_path / "thesis")
    p = run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", tmp_path / "thesis")
    assert_one_line_error(p, 2, "--force", "not an edgeformer artifact")
    survives(files)
    assert not (tmp_path / "thesis" / "export.json").exists()
    no_temp_left(tmp_path)


def test_export_force_adds_its_files_and_keeps_the_users(tmp_path):
    files = user_files(tmp_path / "thesis")
    run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", tmp_path / "thesis", "--force", check=0)
    survives(files)
    assert (tmp_path / "thesis" / "export.json").is_file() and (tmp_path / "thesis" / "c" / "model.c").is_file()
    no_temp_left(tmp_path)


def test_re_export_replaces_only_its_own_files(tmp_path, art):
    dst = tmp_path / "art"
    shutil.copytree(art, dst)
    (dst / "build").mkdir()
    (dst / "build" / "old.elf").write_text("stale")            # derived from the old model: replaced
    files = {dst / "my_notes.txt": "mine", dst / "c" / "../results.csv": "a,b"}
    for f, t in files.items():
        f.write_text(t)
    run_cli("export", "--model", PRESET, "--quantize", "int8", "--out", dst, check=0)
    survives(files)
    assert json.loads((dst / "export.json").read_text())["quantize"] == "int8"
    assert (dst / "model.int8.onnx").is_file() and not (dst / "build").exists()
    no_temp_left(tmp_path)


@pytest.mark.parametrize("out", [".", "", "/", ".."])
def test_export_never_to_cwd_root_or_above(tmp_path, out):
    files = user_files(tmp_path / "work")
    p = subprocess.run([str(EDGEFORMER), "export", "--model", PRESET, "--quantize", "float32", "--out", out],
                       cwd=tmp_path / "work", capture_output=True, text=True, timeout=120)
    assert_one_line_error(p, 2, "--out")
    survives(files)
    no_temp_left(tmp_path / "work")


def test_export_onnx_into_its_own_folder_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                                opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    p = run_cli("export", "--onnx", tmp_path / "m.onnx", "--quantize", "float32", "--out", tmp_path)
    assert_one_line_error(p, 2, "source")
    p = run_cli("export", "--onnx", tmp_path / "m.onnx", "--quantize", "float32", "--out", tmp_path / "m.onnx")
    assert_one_line_error(p, 2)
    assert (tmp_path / "m.onnx").is_file()


def test_stale_temp_folders_of_a_killed_export_are_cleaned_and_others_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)       # a process that has exited: its temp folder is stale
    stale = tmp_path / ".art.abcd1234"
    stale.mkdir()
    (stale / ".edgeformer-export-tmp").write_text(f"{pid}\n")
    (stale / "model.onnx").write_text("half")
    users = tmp_path / ".art.mine"    # hidden, same prefix, but no marker: not ours
    users.mkdir()
    (users / "keep").write_text("x")
    run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", tmp_path / "art", check=0)
    assert not stale.exists()
    assert (users / "keep").read_text() == "x"


def test_sigkill_during_export_leaves_a_temp_folder_the_next_export_removes(tmp_path):
    proc = subprocess.Popen([str(EDGEFORMER), "export", "--model", PRESET, "--out", tmp_path / "art"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".art.*")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", tmp_path / "other", check=0)
    no_temp_left(tmp_path)


def test_not_an_artifact_error_does_not_advise_exporting_over_the_folder(tmp_path):
    files = user_files(tmp_path / "thesis")
    p = run_cli("verify", tmp_path / "thesis")
    line = assert_one_line_error(p, 2, "not an export artifact")
    assert f"--out {tmp_path / 'thesis'}" not in line
    survives(files)


# ---------------------------------------------------------------- broken artifacts

BREAKS = {
    "missing model.c": lambda a: (a / "c" / "model.c").unlink(),
    "missing plan.json": lambda a: (a / "plan.json").unlink(),
    "corrupt plan.json": lambda a: (a / "plan.json").write_text("{not json"),
    "plan.json without arena": lambda a: (a / "plan.json").write_text("{}"),
    "corrupt export.json": lambda a: (a / "export.json").write_text("[1, 2"),
    "export.json a list": lambda a: (a / "export.json").write_text("[]"),
    "export.json without reference": lambda a: (a / "export.json").write_text('{"quantize": "float32"}'),
    "reference escapes": lambda a: (a / "export.json").write_text(
        json.dumps({**json.loads((a / "export.json").read_text()), "reference": "../x.onnx"})),
    "missing model.onnx": lambda a: (a / "model.onnx").unlink(),
}
NEEDLES = {"missing model.c": "model.c", "missing plan.json": "plan.json", "corrupt plan.json": "plan.json",
           "plan.json without arena": "plan.json", "corrupt export.json": "export.json",
           "export.json a list": "export.json", "export.json without reference": "export.json",
           "reference escapes": "export.json", "missing model.onnx": "model.onnx"}


@pytest.mark.parametrize("command", ["verify", "build"])   # run/profile open the artifact the same way
@pytest.mark.parametrize("damage", sorted(BREAKS))
def test_a_damaged_artifact_names_the_file(tmp_path, art, command, damage):
    dst = tmp_path / "art"
    shutil.copytree(art, dst)
    BREAKS[damage](dst)
    p = run_cli(command, dst)
    assert_one_line_error(p, 2, NEEDLES[damage])


def test_int8_artifact_without_its_int8_model(tmp_path, int8_art):
    dst = tmp_path / "art"
    shutil.copytree(int8_art, dst)
    (dst / "model.int8.onnx").unlink()
    for command in ("verify", "build"):
        assert_one_line_error(run_cli(command, dst), 2, "model.int8.onnx")


@pytest.mark.parametrize("command", ["verify", "build", "run", "profile", "reference"])
def test_artifact_commands_on_missing_paths_and_files(tmp_path, command):
    assert_one_line_error(run_cli(command, tmp_path / "nothere"), 2, "does not exist")
    (tmp_path / "f.txt").write_text("x")
    assert_one_line_error(run_cli(command, tmp_path / "f.txt"), 2, "is a file")


# ---------------------------------------------------------------- export arguments


@pytest.mark.parametrize("args,needle", [
    (["--model", "no-such-preset"], "no-such-preset"),
    ([], "exactly one"),
    (["--model", PRESET, "--onnx", "x.onnx"], "exactly one"),
    (["--model", PRESET, "--quantize", "int4"], "--quantize"),
    (["--model", PRESET, "--backend", "llvm"], "--backend"),
    (["--model", PRESET, "--calib-dataset", "no-such-data"], "no-such-data"),
    (["--model", PRESET, "--calib-dataset", "npz:/nonexistent/d.npz"], "d.npz"),
    (["--model", PRESET, "--name", "1bad"], "--name"),
    (["--model", PRESET, "--name", "has space"], "--name"),
    (["--model", PRESET, "--input-shape", "x=1xtwo"], "--input-shape"),
    (["--model", PRESET, "--input-shape", "novalue"], "--input-shape"),
    (["--model", PRESET, "--board", "no-such-board"], "no-such-board"),
    (["--onnx", "/nonexistent/m.onnx"], "does not exist"),
    (["--model", PRESET, "--unknown-flag"], "--unknown-flag"),
])
def test_export_bad_arguments(tmp_path, args, needle):
    p = run_cli("export", *args, "--out", tmp_path / "art")
    assert_one_line_error(p, 2, needle)
    assert not (tmp_path / "art").exists()
    no_temp_left(tmp_path)


def test_export_onnx_given_a_folder_says_folder(tmp_path):
    (tmp_path / "models").mkdir()
    assert_one_line_error(run_cli("export", "--onnx", tmp_path / "models", "--out", tmp_path / "a"), 2, "folder")


def test_export_to_an_unwritable_place(tmp_path):
    p = run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", "/proc/edgeformer-art")
    assert_one_line_error(p, 2)


def test_export_board_that_does_not_fit_exits_3_with_the_bytes(tmp_path):
    board = tmp_path / "tiny.toml"
    board.write_text('name = "tiny"\ncore = "cortex-m4"\nclock_hz = 48_000_000\nsimulator = "mps2-an386"\n'
                     '[memory.flash]\norigin = 0x0\nsize = "256KiB"\n[memory.ram]\norigin = 0x20000000\n'
                     'size = "1KiB"\n')
    p = run_cli("export", "--model", PRESET, "--board", board, "--out", tmp_path / "art")
    assert_one_line_error(p, 3, "tiny", "over by")
    assert not (tmp_path / "art").exists()
    no_temp_left(tmp_path)


def test_a_16_gib_arena_exports_with_a_warning_then_build_and_verify_exit_3(tmp_path):
    shape = [1, 4096, 1024, 1024]            # 16 GiB of float32 per tensor
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])],
                          "big", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "big.onnx")
    p = run_cli("export", "--onnx", tmp_path / "big.onnx", "--quantize", "float32", "--out", tmp_path / "art",
                check=0)
    assert "warning" in p.stderr and "more SRAM than any known board" in p.stderr
    assert_one_line_error(run_cli("build", tmp_path / "art"), 3, "over by")
    assert_one_line_error(run_cli("verify", tmp_path / "art"), 3, "arena")
    p = run_cli("export", "--onnx", tmp_path / "big.onnx", "--quantize", "float32", "--board", "stm32f746g-disco",
                "--out", tmp_path / "art2")
    assert_one_line_error(p, 3, "over by")


def test_int8_of_a_foreign_onnx_without_calibration_warns_and_records_it(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 4], [0.1 * i for i in range(32)])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], initializer=[w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    p = run_cli("export", "--onnx", tmp_path / "m.onnx", "--out", tmp_path / "art", check=0)
    assert "no --calib-dataset" in p.stderr
    meta = json.loads((tmp_path / "art" / "export.json").read_text())
    assert meta["int8"]["calibration"].startswith("random")
    assert "/.art." not in json.dumps(meta), "export.json must not record the temp folder it was built in"


@pytest.mark.parametrize("args,needle", [
    (["verify", "{art}", "--inputs", "0"], "--inputs"),
    (["verify", "{art}", "--target", "gpu"], "--target"),
    (["build", "{art}", "--board", "no-such-board"], "no-such-board"),
    (["build", "{art}", "--board", "/nonexistent/b.toml"], "b.toml"),
    (["run", "{art}", "--sim", "renode"], "--sim"),
    (["profile", "{art}", "--timeout", "0"], "--timeout"),
    (["reference", "{art}", "--engine", "tensorrt"], "--engine"),
    (["flash", "{art}"], "--probe"),
    (["nosuchcommand"], "nosuchcommand"),
])
def test_artifact_command_bad_arguments(art, args, needle):
    p = run_cli(*[a.replace("{art}", str(art)) for a in args])
    assert_one_line_error(p, 2, needle)


def test_no_traceback_from_an_internal_error_unless_asked(tmp_path, art):
    # A hand-edited plan.json whose buffers break the emitter's assumptions still gets one line.
    dst = tmp_path / "art"
    shutil.copytree(art, dst)
    (dst / "c" / "model.h").write_text("/* emptied by hand */\n")
    p = run_cli("build", dst)
    assert "Traceback" not in p.stderr and p.returncode in (1, 2)
    env = dict(os.environ, EDGEFORMER_DEBUG="1")
    q = subprocess.run([str(EDGEFORMER), "build", str(dst)], capture_output=True, text=True, env=env, timeout=120)
    assert q.returncode != 0


def test_sigterm_during_export_cleans_up_and_exits_143(tmp_path):
    import signal
    import time
    proc = subprocess.Popen([str(EDGEFORMER), "export", "--model", PRESET, "--out", tmp_path / "art"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".art.*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    no_temp_left(tmp_path)
    assert not (tmp_path / "art").exists()


def test_force_never_overwrites_a_users_entry_of_the_same_name(tmp_path):
    proj = tmp_path / "fw"
    files = user_files(proj)
    files.update({proj / "c" / "main.c": "int main(void) { return 0; }", proj / "model.onnx": "my own model",
                  proj / "export.json": '{"mine": true}'})   # a file of that name is no proof we made the folder
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    p = run_cli("export", "--model", PRESET, "--quantize", "float32", "--out", proj, "--force")
    assert_one_line_error(p, 2, "never overwritten")
    survives(files)
    no_temp_left(tmp_path)
