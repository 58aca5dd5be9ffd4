"""Is a refactoring behaviour-free? Export every zoo preset int8 and float32 and fingerprint
plan.json and every file under c/ (sha256), then compare two such manifests file by file.

    .venv/bin/python bench/plan_identity.py OUT.json [--only P1,P2] [--quantize int8,float32]
    .venv/bin/python bench/plan_identity.py NEW.json --compare OLD.json
    .venv/bin/python bench/plan_identity.py --compare OLD.json --against NEW.json   (no export)

Each export is the CLI's own code path (export_artifact on the preset, its default
calibration dataset, native backend). Besides the presets x {int8, float32}, one extra row
exports vit-tiny-ref int8 with --io-dtype int8 (the case issue 13's arena target is about).
The manifest also keeps each plan's arena_bytes, so a difference can be judged at once
(equal or lower arena). --compare exits 1 when any file differs or is missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

EXTRA = [("vit-tiny-ref", "int8", "int8")]   # (preset, quantize, io_dtype) beyond the grid


def _key(preset: str, quantize: str, io_dtype: str) -> str:
    return f"{preset}/{quantize}" + ("" if io_dtype == "float32" else f"/io-{io_dtype}")


def fingerprint(art: Path) -> dict[str, str]:
    """{relative path: sha256} of plan.json and every file under c/."""
    files = [art / "plan.json", *sorted(p for p in (art / "c").rglob("*") if p.is_file())]
    return {p.relative_to(art).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def export_one(preset: str, quantize: str, io_dtype: str, tmp: Path) -> dict:
    from edgeformer.export.pipeline import export_artifact, resolve_source

    out = tmp / _key(preset, quantize, io_dtype).replace("/", "_")
    t0 = time.perf_counter()
    try:
        export_artifact(out, resolve_source(None, preset, None), quantize=quantize,
                        log=lambda *a, **k: None, io_dtype=io_dtype)
    except Exception as e:  # one failing export is a row of the manifest, not the end of the run
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    plan = json.loads((out / "plan.json").read_text())
    return {"arena_bytes": plan["arena_bytes"], "seconds": round(time.perf_counter() - t0, 1),
            "files": fingerprint(out)}


def build_manifest(presets: list[str], quantizes: list[str]) -> dict:
    rows = [(p, q, "float32") for p in presets for q in quantizes]
    rows += [r for r in EXTRA if r[0] in presets and r[1] in quantizes]
    manifest: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="edgeformer-identity-") as tmp:
        for preset, quantize, io_dtype in rows:
            key = _key(preset, quantize, io_dtype)
            manifest[key] = export_one(preset, quantize, io_dtype, Path(tmp))
            row = manifest[key]
            print(f"{key:40s} " + (row["error"] if "error" in row else
                                   f"arena {row['arena_bytes']:>8,} B  {len(row['files'])} files  "
                                   f"{row['seconds']} s"), flush=True)
    return manifest


def compare(old: dict, new: dict) -> list[str]:
    """One line per difference: a file whose sha256 changed, a file or row on one side only,
    an export that failed on one side; each changed row also gives both arenas."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            lines.append(f"{key}: only in {'new' if a is None else 'old'} manifest")
            continue
        if "error" in a or "error" in b:
            if a.get("error") != b.get("error"):
                lines.append(f"{key}: export error old={a.get('error')!r} new={b.get('error')!r}")
            continue
        fa, fb = a["files"], b["files"]
        diff = [f"{key}: {f} " + ("only in new" if f not in fa else "only in old" if f not in fb
                                  else "differs")
                for f in sorted(set(fa) | set(fb)) if fa.get(f) != fb.get(f)]
        if diff:
            lines.append(f"{key}: arena {a['arena_bytes']:,} -> {b['arena_bytes']:,} B")
            lines += diff
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", help="manifest to write (JSON)")
    ap.add_argument("--only", help="comma-separated presets (default: the whole zoo)")
    ap.add_argument("--quantize", default="int8,float32")
    ap.add_argument("--compare", metavar="OLD.json", help="compare with an earlier manifest")
    ap.add_argument("--against", metavar="NEW.json", help="with --compare: an existing manifest "
                    "instead of a fresh export")
    args = ap.parse_args(argv)
    if args.against:
        if not args.compare:
            ap.error("--against needs --compare OLD.json")
        new = json.loads(Path(args.against).read_text())
    else:
        if not args.out:
            ap.error("give OUT.json (or --compare OLD.json --against NEW.json)")
        from edgeformer.fsio import write_json
        from edgeformer.zoo import PRESETS
        presets = args.only.split(",") if args.only else list(PRESETS)
        unknown = sorted(set(presets) - set(PRESETS))
        if unknown:
            print(f"error: unknown preset(s) {unknown}; known: {sorted(PRESETS)}", file=sys.stderr)
            return 2
        new = build_manifest(presets, args.quantize.split(","))
        write_json(args.out, new)   # temp file + rename
    if not args.compare:
        return 0
    old = json.loads(Path(args.compare).read_text())
    if not args.against and args.only:   # a partial run compares only the rows it made
        old = {k: v for k, v in old.items() if k in new}
    lines = compare(old, new)
    print("\n".join(lines) if lines else f"identical: {len(new)} exports, plan.json and c/ "
          "byte for byte")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
