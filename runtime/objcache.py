"""Compile C sources to objects once, then link: a content-addressed object cache.

Every host verify and every firmware build compiles the same ~15 kernel files; only model.c,
weights.c and the harness differ. Objects are cached under ~/.cache/edgeformer/objects (or
$EDGEFORMER_CACHE/objects), keyed by what decides the object's bytes: the compiler (path,
version, its C library), the flags with every path in them replaced by the content of the
headers it names, and the source with the headers beside it. ccache does not fit: our include
folders are per-artifact temp paths, which it hashes as text, so every build would miss.
EDGEFORMER_OBJCACHE=0 compiles everything afresh. The link is never cached.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgeformer.fsio import cache_root

PRUNE_AT = 4000   # objects kept; the oldest half goes when the cache grows past this


def cache_dir() -> Path:
    return cache_root() / "objects"


@functools.lru_cache(maxsize=None)
def _compiler_id(cc: str) -> str:
    """The compiler's version and the C library it links: an upgrade of either misses."""
    ver = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    libc = subprocess.run([cc, "-print-file-name=libc.a"], capture_output=True, text=True).stdout.strip()
    st = os.stat(libc) if os.path.isabs(libc) and os.path.exists(libc) else None
    return f"{cc}\n{ver}\n{libc}:{st.st_size if st else 0}:{st.st_mtime_ns if st else 0}"


_QUOTED = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)


def _quoted_closure(first: list[Path], include_dirs: list[Path]) -> list[Path]:
    """Every file reached through #include "..." from `first`, looked up as gcc does: the
    including file's folder, then the -I folders. Conditional includes all count (a few
    extra misses, never a stale object)."""
    seen: dict[Path, None] = {}
    todo = list(first)
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen[f] = None
        for name in _QUOTED.findall(f.read_bytes()):
            for d in (f.parent, *include_dirs):
                cand = (d / name.decode()).resolve()
                if cand.is_file():
                    todo.append(cand)
                    break
    return list(seen)


def _key(cc: str, flags: list[str], src: Path) -> str:
    """Flags count as text except paths, which count by the content of what they name."""
    h = hashlib.sha256(_compiler_id(cc).encode())
    include_dirs, forced = [], []
    it = iter(flags)
    for f in it:
        if f.startswith("-I") and len(f) > 2:
            include_dirs.append(Path(f[2:]))
            h.update(b"-I\0")
        elif f == "-include":
            forced.append(Path(next(it)).resolve())
            h.update(b"-include\0")
        else:
            h.update(f.encode() + b"\0")
    for f in _quoted_closure([src.resolve(), *forced], include_dirs):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _compile_one(cc: str, flags: list[str], src: Path, obj_dir: Path, use_cache: bool) -> tuple[Path, str, int]:
    """(object, compiler stderr, return code). A cached object replays its warnings."""
    if use_cache:
        key = _key(cc, flags, src)
        cached = cache_dir() / key[:2] / f"{key}.o"
        warn = cached.with_suffix(".stderr")
        if cached.is_file():
            os.utime(cached)
            return cached, warn.read_text() if warn.is_file() else "", 0
    obj = obj_dir / f"{src.stem}-{hashlib.sha1(str(src).encode()).hexdigest()[:8]}.o"
    r = subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    if r.returncode != 0 or not use_cache:
        return obj, r.stderr, r.returncode
    cached.parent.mkdir(parents=True, exist_ok=True)
    for path, data in ((warn, r.stderr.encode()), (cached, obj.read_bytes())):
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # stderr first: a visible object always has its warnings
    return obj, r.stderr, 0


_OURS = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.o")


def _prune() -> None:
    """Only files named as this cache names them: $EDGEFORMER_CACHE may be a folder the user
    shares with other things."""
    root = cache_dir()
    objs = sorted((p for p in root.glob("??/*.o") if _OURS.fullmatch(p.relative_to(root).as_posix())),
                  key=lambda p: p.stat().st_mtime)
    if len(objs) > PRUNE_AT:
        for p in objs[: len(objs) // 2]:
            p.unlink(missing_ok=True)
            p.with_suffix(".stderr").unlink(missing_ok=True)


def compile_and_link(cc: str, sources: list[Path], out: Path, cflags: list[str],
                     ldflags: list[str] = ()) -> subprocess.CompletedProcess:
    """What `cc cflags sources ldflags -o out` does, with each source's object cached.

    Returns the compile's or link's CompletedProcess (stderr: every compiler message, in source
    order, then the linker's), so callers read errors and warnings as before."""
    use_cache = os.environ.get("EDGEFORMER_OBJCACHE", "1") != "0"
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".objs-") as td:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            results = list(pool.map(lambda s: _compile_one(cc, list(cflags), Path(s), Path(td), use_cache), sources))
        stderr = "".join(err for _, err, _ in results)
        failed = [rc for _, _, rc in results if rc != 0]
        if failed:
            return subprocess.CompletedProcess([cc], failed[0], "", stderr)
        link = [cc, *cflags, *(str(o) for o, _, _ in results), *ldflags, "-o", str(out)]
        r = subprocess.run(link, capture_output=True, text=True)
    if use_cache:
        _prune()
    return subprocess.CompletedProcess(link, r.returncode, r.stdout, stderr + r.stderr)
