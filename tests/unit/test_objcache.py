"""The object cache: a warm link gives the same executable as a cold one, and any header a
source reaches (beside it, through -I, through -include) decides whether its object is reused."""
import subprocess
from pathlib import Path

import pytest

from edgeformer.runtime.objcache import cache_dir, compile_and_link

FLAGS = ["-std=c99", "-O2", "-Wall"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEFORMER_CACHE", str(tmp_path / "cache"))
    src, inc = tmp_path / "src", tmp_path / "inc"
    src.mkdir()
    inc.mkdir()
    (src / "main.c").write_text('#include <stdio.h>\n#include "k.h"\nint main(void){printf("%d\\n", K + V);return 0;}\n')
    (src / "k.h").write_text('#include "v.h"\n#define K 40\n')
    (inc / "v.h").write_text("#define V 2\n")
    (src / "unrelated.h").write_text("#define U 1\n")
    return src, inc, tmp_path / "a.out"


def _run(src, inc, exe, extra=()):
    r = compile_and_link("cc", [src / "main.c"], exe, [*FLAGS, f"-I{inc}", *extra])
    assert r.returncode == 0, r.stderr
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip()


def _objects():
    return sorted(cache_dir().glob("*/*.o"))


def test_warm_build_is_the_cold_build(project):
    src, inc, exe = project
    assert _run(src, inc, exe) == "42"
    cold = exe.read_bytes()
    objs = _objects()
    assert len(objs) == 1
    (src / "unrelated.h").write_text("#define U 2\n")   # not included: still a hit
    assert _run(src, inc, exe) == "42"
    assert exe.read_bytes() == cold and _objects() == objs


@pytest.mark.parametrize("edit", ["beside", "through -I"])
def test_a_reached_header_changes_the_object(project, edit):
    src, inc, exe = project
    assert _run(src, inc, exe) == "42"
    if edit == "beside":
        (src / "k.h").write_text('#include "v.h"\n#define K 50\n')
    else:
        (inc / "v.h").write_text("#define V 3\n")
    assert _run(src, inc, exe) == ("52" if edit == "beside" else "43")
    assert len(_objects()) == 2


def test_forced_include_counts(project, tmp_path):
    src, inc, exe = project
    forced = tmp_path / "forced.h"
    forced.write_text("#define EXTRA 0\n")
    _run(src, inc, exe, ["-include", str(forced)])
    forced.write_text("#undef K\n#define K 10\n#define EXTRA 1\n")
    # main.c redefines K after the forced include; the object must still be rebuilt
    r = compile_and_link("cc", [src / "main.c"], exe, [*FLAGS, f"-I{inc}", "-include", str(forced)])
    assert len(_objects()) == 2 and "redefined" in r.stderr


def test_compile_errors_and_warnings_come_back(project):
    src, inc, exe = project
    (src / "bad.c").write_text("int f(void){ int unused; return 0; }\n")
    (src / "worse.c").write_text("int g(void){ return nope; }\n")
    r = compile_and_link("cc", [src / "bad.c", src / "worse.c"], exe, FLAGS)
    assert r.returncode != 0 and "nope" in r.stderr and "unused" in r.stderr
    # the cached object of bad.c replays its warning on a hit
    r = compile_and_link("cc", [src / "bad.c", src / "main.c"], exe, [*FLAGS, f"-I{inc}"])
    assert r.returncode == 0 and "unused" in r.stderr


def test_opting_out_leaves_no_objects(project, monkeypatch):
    src, inc, exe = project
    monkeypatch.setenv("EDGEFORMER_OBJCACHE", "0")
    assert _run(src, inc, exe) == "42"
    assert _objects() == []


def test_pruning_removes_only_our_objects(project, monkeypatch):
    import edgeformer.runtime.objcache as oc
    src, inc, exe = project
    (src / "other.c").write_text("int other(void) { return 1; }\n")
    assert compile_and_link("cc", [src / "main.c", src / "other.c"], exe, [*FLAGS, f"-I{inc}"]).returncode == 0
    ours = _objects()
    assert len(ours) == 2
    foreign = cache_dir() / "ab" / "user.o"
    foreign.parent.mkdir(exist_ok=True)
    foreign.write_bytes(b"not ours")
    monkeypatch.setattr(oc, "PRUNE_AT", 0)
    oc._prune()   # the older half of ours goes; a file not named as ours never does
    assert foreign.read_bytes() == b"not ours"
    assert len([p for p in _objects() if p != foreign]) == 1


def test_one_cache_root_follows_xdg_cache_home(tmp_path, monkeypatch):
    """Objects and the search's caches share one root, and it follows XDG_CACHE_HOME."""
    from edgeformer.nas.memory import cache_dir as nas_cache_dir
    monkeypatch.delenv("EDGEFORMER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "edgeformer" / "objects"
    assert nas_cache_dir() == tmp_path / "xdg" / "edgeformer" / "nas"
    monkeypatch.setenv("EDGEFORMER_CACHE", str(tmp_path / "own"))
    assert cache_dir().parent == nas_cache_dir().parent == tmp_path / "own"
