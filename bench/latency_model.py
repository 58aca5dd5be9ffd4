"""How well the search's latency objective predicts real QEMU profiles, cost model vs MACs proxy.

For every preset (none of them is a calibration model): export int8 with each core's own weight
layout (as `export --board` does: Helium rows on the M55, Armv6-M bytes on the M0/M0+), profile
on the cores' stand-ins (QEMU -icount, exact instruction counts), and print measured instructions beside
the calibrated cost model's estimate (nas/latency.py) and the old MACs proxy
(CYCLES_PER_MAC x MACs), with their errors. Usage:
    .venv/bin/python bench/latency_model.py [--presets a,b] [--cores cortex-m7,cortex-m4,cortex-m55]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import PIPELINE, run
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.errors import EdgeformerError
    from edgeformer.export.emit.ops_qlinear import weight_layout
    from edgeformer.nas.latency import calibrate, core_layout, graph_features, stand_in
    from edgeformer.targets.cores import target
    from edgeformer.nas.memory import runtime_kind
    from edgeformer.nas.study import CYCLES_PER_MAC
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.profile import profile_qemu
    from edgeformer.zoo import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--cores", default="cortex-m7,cortex-m4")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeformer-bench-") as tmp:
        for name in a.presets.split(","):
            kind = runtime_kind(PRESETS[name])
            arts: dict[str | None, tuple[Path, list]] = {}   # one export per weight layout
            for core in a.cores.split(","):
                layout = weight_layout(target(core).features)
                if layout not in arts:
                    art = Path(tmp) / f"{name}-{layout or 'portable'}"
                    with core_layout(core):
                        export_artifact(art, resolve_source(None, name, None), log=lambda m: None)
                        arts[layout] = art, graph_features(run(load_onnx(art / "model.int8.onnx"), PIPELINE))
                art, feats = arts[layout]
                board = stand_in(core)
                try:
                    prof = profile_qemu(art, board, build_firmware(art, board))
                except EdgeformerError as e:   # e.g. over the M55 stand-in's 512 KiB ITCM
                    rows.append([name, core, f"n/a ({str(e).splitlines()[0][:70]})", "", "", "", ""])
                    continue
                real = prof["instructions_total"]
                est = calibrate(core, kind, print).instructions(feats)
                proxy = prof["macs"] * CYCLES_PER_MAC
                rows.append([name, core, f"{real:,}", f"{int(est):,}", f"{est / real - 1:+.1%}", f"{int(proxy):,}",
                             f"{proxy / real - 1:+.1%}"])
    head = ["preset", "core", "measured instr", "cost model", "err", "MACs proxy", "err"]
    print("latency objective vs QEMU profile (instructions per inference; per step for streaming models)")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(r))


if __name__ == "__main__":
    main()
