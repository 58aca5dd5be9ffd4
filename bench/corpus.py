"""The third-party corpus, end to end: each architecture of tests/corpus exported by both of
torch's exporters at default settings, then `export --onnx` float32 and int8 (calibrated from a
generated npz) and `verify --target host`, the same code paths as the CLI.

Per row: exporter, opset, op count, params, MACs (plan.json), float32 and int8 verify figures
(max_abs_diff; int8 also top-1 agreement and quantisation steps), and arena vs no-reuse bytes
from plan.json. A stage that fails is shown with its one-line error.
    .venv/bin/python bench/corpus.py [--size small|full] [--only hf-vit,torch-mha] [--exporters dynamo,legacy]
                                      [--quantize float32,int8] [--inputs 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.corpus.exporters import EXPORTERS, export, write_npz  # noqa: E402
from tests.corpus.models import FACTORIES, build  # noqa: E402


def _err(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]


def run_one(name: str, exporter: str, size: str, quants: list[str], n: int, tmp: Path) -> dict:
    from edgeformer.export.pipeline import export_artifact, resolve_source
    from edgeformer.runtime.actions import verify_artifact

    row: dict = {"model": name, "exporter": exporter, "size": size}
    t0 = time.perf_counter()
    case = build(name, size)
    work = tmp / f"{name}-{exporter}"
    try:
        onnx_path = export(case, work / "model.onnx", exporter)
    except Exception as e:  # torch's own exporter refusing the model
        row["error"] = f"torch.onnx.export: {_err(e)}"
        return row
    npz = write_npz(case, work / "data.npz")
    for q in quants:
        try:
            meta = export_artifact(work / f"art-{q}", resolve_source(None, None, str(onnx_path)), quantize=q,
                                   calib_dataset=f"npz:{npz}" if q == "int8" else None, log=lambda *a: None)
            plan = meta["plan"]
            onnx_meta = meta["onnx"]
            row.update(opset=onnx_meta.get("opset_source"), ops=sum(onnx_meta.get("ops", {}).values()),
                       params=onnx_meta.get("params"), macs=plan.get("macs"))
            row[q] = {"arena_bytes": plan["arena_bytes"], "no_reuse_bytes": plan["no_reuse_bytes"],
                      "unfused_liveness_bound_bytes": plan.get("unfused_liveness_bound_bytes")}
            res = verify_artifact(work / f"art-{q}", n=n)
            row[q].update({k: res.get(k) for k in ("passed", "max_abs_diff", "max_abs_diff_steps",
                                                    "top1_agreement", "outputs")})
        except Exception as e:
            row[q] = {"error": f"{type(e).__name__}: {_err(e)}"}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def _cell(r: dict | None) -> str:
    if not r:
        return "-"
    if "error" in r:
        return f"[red]{r['error'][:70]}[/]"
    ok = "[green]pass[/]" if r.get("passed") else "[red]FAIL[/]"
    steps = r.get("max_abs_diff_steps")
    extra = f" {steps:.1f}st top1 {r['top1_agreement']:.2f}" if steps is not None else ""
    return f"{ok} {r['max_abs_diff']:.2g}{extra}"


def _mem(r: dict | None) -> str:
    if not r or "arena_bytes" not in r:
        return "-"
    return f"{r['arena_bytes']:,} / {r['no_reuse_bytes']:,}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full", choices=("small", "full"))
    ap.add_argument("--only", default="")
    ap.add_argument("--exporters", default=",".join(EXPORTERS))
    ap.add_argument("--quantize", default="float32,int8")
    ap.add_argument("--inputs", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    names = [s for s in args.only.split(",") if s] or list(FACTORIES)
    quants = [q for q in args.quantize.split(",") if q]
    rows = []
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="edgeformer-corpus-") as tmp:
        for name in names:
            for ex in [e for e in args.exporters.split(",") if e]:
                row = run_one(name, ex, args.size, quants, args.inputs, Path(tmp))
                rows.append(row)
                console.print(f"{name} {ex}: {json.dumps({k: v for k, v in row.items() if k != 'outputs'}, default=str)[:600]}")
    table = Table(title=f"third-party corpus ({args.size} configs), verify on the host")
    for col in ("model", "exporter", "opset", "ops", "params", "MACs", "float32 verify", "int8 verify",
                "f32 arena / no-reuse B", "int8 arena / no-reuse B"):
        table.add_column(col)
    for r in rows:
        if "error" in r:
            table.add_row(r["model"], r["exporter"], "-", "-", "-", "-", f"[red]{r['error'][:70]}[/]", "-", "-", "-")
            continue
        table.add_row(r["model"], r["exporter"], str(r.get("opset", "-")), str(r.get("ops", "-")),
                      f"{r.get('params') or 0:,}", f"{r.get('macs') or 0:,}", _cell(r.get("float32")),
                      _cell(r.get("int8")), _mem(r.get("float32")), _mem(r.get("int8")))
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
