"""Instructions per MAC for every preset on every core's stand-in (QEMU -icount, exact counts).

Native backend vs the tvm backend side by side, int8 and float32, from one run: each preset is
exported once per (dtype, backend) and profiled on each core's stand-in board: mps2-an500
(Cortex-M7), mps2-an386 (M4), mps3-an547 (M55 with Helium), mps2-an505 (M33) and rpi-pico
(M0+: the RP2040's 264 KiB on the micro:bit's nRF51 stand-in, an M0). An int8 model is
exported once per weight layout the cores need (ops_qlinear.core_features: int8 rows for the
M55's Helium kernels, weights + 128 for the M0's, int16 pairs for the others), as
an export for a named core does. The float32 columns put
our FPU kernels (export/kernels/ef_f32_fast.c) beside TVM's generated float kernels. A backend
that cannot export, or a model that does not fit a board, shows "n/a".

Instruction counts are not cycles: the M7 dual-issues, the M55 executes a Helium instruction
in beats (two or four per 128-bit vector, a gather one element per beat), the M0 has no
DSP instructions and a 32-cycle multiply on some parts. Compare cores by cycles on silicon.
`--corpus hf-deit,torch-encoder` adds third-party models from tests/corpus (Hugging Face
transformers and plain torch, random weights in the corpus's full size, exported by torch's
default dynamo exporter, then `export --onnx`; int8 calibrated on seeded inputs).

Then spiking vs non-spiking twins side by side on the M7 stand-in (bench/spiking.py, which
this imports): spiking-lmuformer-fsdd vs lmuformer-fsdd and spiking-vit-digits (vit-digits
with spiking_mlp) vs vit-digits, each pair trained with one short recipe on its real dataset
(`--epochs`, default per dataset: bench/spiking.EPOCHS; about 10 minutes on 2 cores), int8:
instructions per inference (and per step for streaming), the ratio to the twin, float and
int8 accuracy, the spike rate of every spike-fed layer. `--twins ""` leaves them out,
`--presets ""` runs only them.
Usage: .venv/bin/python bench/latency.py [--presets a,b] [--corpus m,n] [--dtypes int8,float32]
[--backends native,tvm] [--cores m7,m4,m55,m33,m0+] [--twins s:t,...] [--epochs N] [--inputs N]
[--out DIR] [--json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

from edgeformer.errors import EdgeformerError
from edgeformer.export.emit.ops_qlinear import core_features
from edgeformer.export.pipeline import export_artifact, resolve_source
from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import build_firmware
from edgeformer.runtime.profile import profile_qemu
from edgeformer.zoo import PRESETS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spiking as twins  # noqa: E402  bench/spiking.py: the spiking vs non-spiking twins

# core (column label) -> the board profiled for it (its simulator is the core's stand-in)
CORES = {"m7": "mps2-an500", "m4": "mps2-an386", "m55": "mps3-an547", "m33": "mps2-an505", "m0+": "rpi-pico"}
STAND_INS = tuple(CORES.values())
BACKENDS = ("native", "tvm")
DTYPES = ("int8", "float32")


def _source(model: str, work: Path):
    """A preset by name, or "corpus:NAME": the corpus model exported by torch's dynamo exporter."""
    if not model.startswith("corpus:"):
        return resolve_source(None, model, None)
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/corpus, from a checkout
    from tests.corpus.exporters import export
    from tests.corpus.models import build
    name = model.removeprefix("corpus:")
    path = work / "onnx" / name / "model.onnx"
    if not path.exists():
        export(build(name, "full"), path, "dynamo")
    return resolve_source(None, None, str(path))


def _layout(board_name: str, quantize: str, backend: str) -> tuple[str, tuple[str, ...] | None]:
    """The weight layout export picks for the board's core (ops_qlinear.CORE_FEATURES): int8
    rows on Helium, weights + 128 on Armv6-M, else the portable int16 pairs (float32 and the
    tvm backend have one layout for all)."""
    feats = load_board(board_name).target.features
    if quantize != "int8" or backend != "native":
        return "portable", None
    if "mve" in feats:
        return "helium", feats
    return ("v6m", feats) if "dsp" not in feats else ("portable", None)


def measure(preset: str, backend: str, work: Path, quantize: str = "int8",
            boards: tuple[str, ...] = STAND_INS) -> dict[str, dict | str]:
    """Export once per weight layout the boards' cores need, profile each board on its own."""
    groups: dict[tuple, list[str]] = {}
    for b in boards:
        groups.setdefault(_layout(b, quantize, backend), []).append(b)
    res: dict[str, dict | str] = {}
    for (layout, feats), names in groups.items():
        art = work / f"{preset.replace(':', '-')}-{backend}-{quantize}-{layout}"
        try:
            with core_features(feats) if feats is not None else contextlib.nullcontext():
                export_artifact(art, _source(preset, work), quantize=quantize, backend=backend,
                                log=lambda m: None, force=True)
        except EdgeformerError as e:
            res.update({b: f"n/a ({str(e).splitlines()[0][:60]})" for b in names})
            continue
        for name in names:
            board = load_board(name)
            try:
                prof = profile_qemu(art, board, build_firmware(art, board))
                res[name] = {k: prof[k] for k in ("instructions_total", "macs", "instructions_per_mac")}
            except EdgeformerError as e:
                res[name] = f"n/a ({str(e)[:60]})"
    return res


def _ratio(nat, tvm) -> str:
    if isinstance(nat, dict) and isinstance(tvm, dict):
        return f"{tvm['instructions_total'] / nat['instructions_total']:.1f}x fewer"
    return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--corpus", default="", help="third-party models from tests/corpus, e.g. hf-deit,torch-encoder")
    ap.add_argument("--dtypes", default=",".join(DTYPES), help="int8, float32 or both (default)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="native, tvm or both (default)")
    ap.add_argument("--cores", default=",".join(CORES), help=f"any of {', '.join(CORES)} (default: all)")
    ap.add_argument("--twins", default=",".join(twins.PAIRS),
                    help='spiking:non-spiking pairs on the M7 stand-in ("" for none)')
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"training of each twin (default per dataset: {twins.EPOCHS}; 0: untrained)")
    ap.add_argument("--inputs", type=int, default=200, help="test inputs for the twins' int8 accuracy and spike rates")
    ap.add_argument("--out", help="keep the artifacts here (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dtypes = [d for d in args.dtypes.split(",") if d]
    backends = [b for b in args.backends.split(",") if b]
    unknown = [c for c in args.cores.split(",") if c not in CORES]
    if unknown:
        ap.error(f"unknown core {unknown[0]!r}; known: {', '.join(CORES)}")
    cores = [c for c in args.cores.split(",") if c]
    boards = tuple(CORES[c] for c in cores)
    pairs = twins.parse_pairs(args.twins)
    with tempfile.TemporaryDirectory(prefix="edgeformer-bench-") as tmp:
        work = Path(args.out or tmp)
        # results[preset][dtype][backend][board]
        results = {p: {d: {b: measure(p, b, work, d, boards) for b in backends} for d in dtypes}
                   for p in [*[x for x in args.presets.split(",") if x],
                             *[f"corpus:{x}" for x in args.corpus.split(",") if x]]}
        twin_res = None
        if pairs:
            (work / "twins").mkdir(parents=True, exist_ok=True)
            twin_res = twins.compare(pairs, work / "twins", args.inputs, args.epochs,
                                     log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps({"cores": {c: CORES[c] for c in cores}, "results": results, "twins": twin_res}, indent=2))
        return
    if results:
        _print_table(results, cores, boards, dtypes, backends)
    if twin_res:
        print("\n".join(twins.table(twin_res, pairs, detail=False)))


def _print_table(results: dict, cores: list[str], boards: tuple[str, ...], dtypes: list[str],
                 backends: list[str]) -> None:
    cell = lambda r: f"{r['instructions_per_mac']:.2f}" if isinstance(r, dict) else "n/a"  # noqa: E731
    cols = [(d, c, b) for c in cores for d in dtypes for b in backends]
    ref = boards[0]
    both = "native" in backends and "tvm" in backends
    head = (["preset", "MACs"] + [f"{d} {b} {c.upper()}" for d, c, b in cols]
            + ([f"native/tvm {d} {cores[0].upper()}" for d in dtypes] if both else []))
    print("instructions per MAC, all cores side by side (QEMU -icount: " +
          ", ".join(f"{c.upper()} = {CORES[c]}" for c in cores) + "); instruction counts are not cycles")
    print(" | ".join(head))
    na = {}
    for p, r in results.items():
        first = r[dtypes[0]][backends[0]][ref]
        macs = first["macs"] if isinstance(first, dict) else "?"
        ratios = [_ratio(r[d]["native"][ref], r[d]["tvm"][ref]) for d in dtypes] if both else []
        print(" | ".join([p, str(macs)] + [cell(r[d][b][CORES[c]]) for d, c, b in cols] + ratios))
        na.update({f"{p} {d} {b} {c}": r[d][b][CORES[c]] for d, c, b in cols
                   if not isinstance(r[d][b][CORES[c]], dict)})
    for what, why in na.items():
        print(f"{what}: {why}")


if __name__ == "__main__":
    main()
