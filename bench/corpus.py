"""The third-party corpus, end to end: each architecture of tests/corpus exported by both of
torch's exporters at default settings, then `export --onnx` float32 and int8 (calibrated from a
generated npz) and `verify --target host`, the same code paths as the CLI.

Per row: exporter, opset, op count, params, MACs (plan.json), float32 and int8 verify figures
(max_abs_diff; int8 also top-1 agreement and quantisation steps), and memory: our arena vs
no-reuse bytes (plan.json) vs TVM Relax's own static plan for the same reference ONNX
(StaticPlanBlockMemory's pools + the largest kernel workspace + the caller's I/O, which our
arena holds too; export/tvm_backend/static_plan.py, bench/memory.py's peer figure). On the
boards (`--board-quantize`, int8 by default): `run` on each of `--boards` (QEMU stand-ins,
matched to onnxruntime) and instructions per MAC from `profile` on `--profile-board` (QEMU
-icount instructions_total / plan.json macs). A stage that fails is shown with its one-line
error.
    .venv/bin/python bench/corpus.py [--size small|full] [--only hf-vit,torch-mha] [--exporters dynamo,legacy]
                                      [--quantize float32,int8] [--inputs 20] [--json out.json]
                                      [--boards mps2-an500,mps2-an386] [--profile-board mps2-an500]
                                      [--board-quantize int8] [--no-tvm]
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


def tvm_plan_bytes(reference: Path) -> dict:
    """TVM's own plan for `reference`, on our arena's footing (with the caller's I/O)."""
    from edgeformer.export.tvm_backend import relax_static_plan
    try:
        tv = relax_static_plan(reference)
    except Exception as e:  # the peer failing on a model is a cell note, not a crash
        return {"tvm_error": _err(e)}
    return {"tvm_plan_bytes": tv["total_bytes"] + tv["input_bytes"] + tv["output_bytes"],
            "tvm_planned_bytes": tv["planned_bytes"], "tvm_scratch_bytes": tv["scratch_bytes"]}


def on_boards(art: Path, boards: list[str], profile_board: str | None, n: int) -> dict:
    """`run` on each board (matched to onnxruntime) and instructions/MAC from `profile`."""
    from edgeformer.runtime.actions import profile_artifact, run_artifact
    out: dict = {}
    for b in boards:
        try:
            r = run_artifact(art, b, n=n)
            out[b] = {k: r.get(k) for k in ("passed", "max_abs_diff", "max_abs_diff_steps", "top1_agreement")}
        except Exception as e:
            out[b] = {"error": f"{type(e).__name__}: {_err(e)}"}
    if profile_board:
        try:
            p = profile_artifact(art, profile_board)
            out["profile"] = {"board": profile_board, "instructions": p["instructions_total"], "macs": p["macs"],
                              "instructions_per_mac": p["instructions_total"] / p["macs"] if p["macs"] else None}
        except Exception as e:
            out["profile"] = {"error": f"{type(e).__name__}: {_err(e)}"}
    return out


def run_one(name: str, exporter: str, size: str, quants: list[str], n: int, tmp: Path,
            boards: list[str] = (), profile_board: str | None = None, board_quants: list[str] = (),
            tvm: bool = True) -> dict:
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
                                                    "top1_agreement", "outputs", "near_ties")})
            if tvm:
                row[q].update(tvm_plan_bytes(work / f"art-{q}" / meta["reference"]))
            if q in board_quants:
                row[q]["boards"] = on_boards(work / f"art-{q}", list(boards), profile_board, min(n, 8))
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
    if r.get("near_ties"):   # inputs beyond 2 steps, replayed exactly: by float64 / one tie / not
        t = r["near_ties"]
        extra += f" ties {t.get('by_float64', 0)}/{t.get('by_one_tie', 0)}/{t.get('unexplained', t['beyond_tolerance'])}"
    return f"{ok} {r['max_abs_diff']:.2g}{extra}"


def _mem(r: dict | None) -> str:
    if not r or "arena_bytes" not in r:
        return "-"
    tvm = f"{r['tvm_plan_bytes']:,}" if "tvm_plan_bytes" in r else ("err" if "tvm_error" in r else "-")
    return f"{r['arena_bytes']:,} / {r['no_reuse_bytes']:,} / {tvm}"


def _core(board: str) -> str:
    """'M7' for a Cortex-M7 board (the board TOML's core), else the board's name."""
    from edgeformer.runtime.boards import load_board
    try:
        return load_board(board).core.replace("cortex-", "").upper()
    except Exception:
        return board


def _boards(r: dict | None, boards: list[str]) -> str:
    b = (r or {}).get("boards")
    if not b:
        return "-"
    cells = []
    for name in boards:
        x = b.get(name, {})
        ok = "[red]err[/]" if "error" in x else ("[green]pass[/]" if x.get("passed") else "[red]FAIL[/]")
        steps = x.get("max_abs_diff_steps")
        cells.append(f"{_core(name)} {ok}" + (f" {steps:.0f}st" if steps is not None else ""))
    p = b.get("profile", {})
    if p.get("instructions_per_mac") is not None:
        cells.append(f"{p['instructions_per_mac']:.2f} instr/MAC {_core(p['board'])}")
    elif "error" in p:
        cells.append("[red]profile err[/]")
    return ", ".join(cells)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full", choices=("small", "full"))
    ap.add_argument("--only", default="")
    ap.add_argument("--exporters", default=",".join(EXPORTERS))
    ap.add_argument("--quantize", default="float32,int8")
    ap.add_argument("--inputs", type=int, default=20)
    ap.add_argument("--json", default=None)
    ap.add_argument("--boards", default="mps2-an500,mps2-an386", help="QEMU boards to run on (none: '')")
    ap.add_argument("--profile-board", default="mps2-an500", help="instructions/MAC from profile here ('' for none)")
    ap.add_argument("--board-quantize", default="int8", help="which quantisations go on the boards")
    ap.add_argument("--no-tvm", action="store_true", help="skip TVM's own plan")
    args = ap.parse_args(argv)
    boards = [b for b in args.boards.split(",") if b]
    board_quants = [q for q in args.board_quantize.split(",") if q]
    names = [s for s in args.only.split(",") if s] or list(FACTORIES)
    quants = [q for q in args.quantize.split(",") if q]
    rows = []
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="edgeformer-corpus-") as tmp:
        for name in names:
            for ex in [e for e in args.exporters.split(",") if e]:
                row = run_one(name, ex, args.size, quants, args.inputs, Path(tmp), boards,
                              args.profile_board or None, board_quants, not args.no_tvm)
                rows.append(row)
                console.print(f"{name} {ex}: {json.dumps({k: v for k, v in row.items() if k != 'outputs'}, default=str)[:600]}")
    if args.json:   # before the table: the figures survive a rendering problem
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    title = f"third-party corpus ({args.size} configs): verify on the host, {','.join(board_quants)} on QEMU boards"
    table = Table(title=title)
    cols = ["model", "exporter", "opset", "ops", "params", "MACs", "float32 verify", "int8 verify",
            "f32 arena / no-reuse / TVM B", "int8 arena / no-reuse / TVM B"]
    cols += [f"{q} on boards" for q in board_quants if boards or args.profile_board]
    for col in cols:
        table.add_column(col)
    for r in rows:
        extra = [_boards(r.get(q), boards) for q in board_quants if boards or args.profile_board]
        if "error" in r:
            table.add_row(r["model"], r["exporter"], "-", "-", "-", "-", f"[red]{r['error'][:70]}[/]", "-", "-", "-",
                          *["-"] * len(extra))
            continue
        table.add_row(r["model"], r["exporter"], str(r.get("opset", "-")), str(r.get("ops", "-")),
                      f"{r.get('params') or 0:,}", f"{r.get('macs') or 0:,}", _cell(r.get("float32")),
                      _cell(r.get("int8")), _mem(r.get("float32")), _mem(r.get("int8")), *extra)
    Console(width=260).print(table)   # one line per row, also when piped to a file
    return 0


if __name__ == "__main__":
    sys.exit(main())
