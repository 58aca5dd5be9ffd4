"""`edgeformer profile`: per-op instruction counts in QEMU (or cycles on a board), the total,
an estimated latency at the board clock, SRAM and flash from the ELF; profile.json + .png.

In QEMU the count is instructions (SysTick under -icount shift=0: 40 instructions per tick at
the MPS2's 25 MHz), so est_latency_ms assumes one instruction per cycle at the board's clock:
an instruction-count estimate, not a cycle-accurate one. Streaming models are profiled over
one whole sequence; `instructions_total`, `layers` and `macs` are then per step (the step
graph is what the plan describes), with the sequence totals and state bytes beside them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edgeformer.fsio import write_json
from edgeformer.runtime.boards import Board

LATENCY_BASIS = "instruction-count estimate: instructions / clock_hz (QEMU -icount, assumes 1 instruction per cycle)"


def layer_group(op_name: str) -> str:
    """The layer an op belongs to, from its ONNX name: '/blocks.0/attn/MatMul' -> 'blocks.0/attn'."""
    s = op_name.lstrip("/")
    if "/" in s:
        return s.rsplit("/", 1)[0]
    return s.split("_", 1)[0].rsplit(".", 1)[0] if "." in s else s


def build_profile(board: Board, build: dict[str, Any], plan: dict[str, Any], prof: dict[str, Any],
                  per_unit: int, mode: str, steps: int = 1, state_bytes: int = 0) -> dict[str, Any]:
    """prof: parse_profile() output (counts summed over prof['runs'] runs); per_unit converts
    counts to instructions (QEMU) or cycles (device, 1)."""
    runs = max(prof["runs"], 1)
    unit = "instructions" if mode == "qemu" else "cycles"
    layers = [{"name": n, unit: int(round(c * per_unit / runs))} for n, c in prof["ops"]]
    total = int(round((sum(c for _, c in prof["ops"]) + prof["gap"]) * per_unit / runs))
    groups: dict[str, int] = {}
    for layer in layers:
        groups[layer_group(layer["name"])] = groups.get(layer_group(layer["name"]), 0) + layer[unit]
    macs = int(plan["macs"])
    out: dict[str, Any] = {
        "board": board.name, "mode": mode, "core": board.core, "clock_hz": board.clock_hz,
        f"{unit}_total": total, "macs": macs, f"{unit}_per_mac": total / macs if macs else None,
        "layers": layers, "layer_groups": [{"name": k, unit: v} for k, v in groups.items()],
        "ram_bytes": build["ram_bytes"], "flash_bytes": build["flash_bytes"], "arena_bytes": build["arena_bytes"],
        # the same figure as build's: arena + caller-held I/O + measured stack + static state
        "ram_parts": build.get("ram_parts"), "stack_bytes": build.get("stack_bytes"),
        "est_latency_ms": total / board.clock_hz * 1e3,
        "est_latency_basis": LATENCY_BASIS if mode == "qemu" else "DWT CYCCNT cycles / clock_hz",
        "runs": runs, "streaming": steps > 1 or state_bytes > 0,
    }
    if mode == "qemu":
        out["simulator"] = board.simulator
    if out["streaming"]:
        out.update({"per": "step", "steps": steps, "state_bytes": state_bytes,
                    f"sequence_{unit}": total * steps, "est_step_latency_ms": out["est_latency_ms"],
                    "est_sequence_latency_ms": out["est_latency_ms"] * steps})
    return out


def plot_profile(profile: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = "instructions" if profile["mode"] == "qemu" else "cycles"
    groups = profile["layer_groups"]
    names = [g["name"] for g in groups]
    vals = np.array([g[unit] for g in groups], dtype=float)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(groups) + 1.2)))
    ax.barh(range(len(groups)), vals / 1e3, color="#4477aa")
    ax.set_yticks(range(len(groups)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"thousand {unit}" + (" per step" if profile.get("per") == "step" else ""))
    est = "est." if profile["mode"] == "qemu" else ""
    ax.set_title(f"{profile['board']} ({profile['core']}, {profile['mode']}): {profile[f'{unit}_total']:,} {unit}, "
                 f"{est} {profile['est_latency_ms']:.2f} ms @ {profile['clock_hz'] / 1e6:.0f} MHz", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_profile(art: Path, profile: dict[str, Any]) -> tuple[Path, Path]:
    """ART/profile.json and ART/profile.png."""
    write_json(art / "profile.json", profile)
    tmp = art / ".profile.png.tmp.png"
    try:
        plot_profile(profile, tmp)
        tmp.replace(art / "profile.png")
    finally:
        tmp.unlink(missing_ok=True)
    return art / "profile.json", art / "profile.png"


def profile_qemu(art: Path, board: Board, build: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """One real test input (one sequence for streaming models) through the firmware in QEMU."""
    from edgeformer.runtime.host import read_signature
    from edgeformer.runtime.qemu import instructions_per_tick, pack_inputs, parse_profile, run_qemu
    from edgeformer.runtime.verify import load_meta, quantize_io, test_inputs

    meta = load_meta(art)
    plan = json.loads((art / "plan.json").read_text())
    sig = read_signature(art / "c")
    x, _ = test_inputs(meta, art, 1)
    x = quantize_io(((meta.get("io_quant") or {}).get("inputs") or [None])[0], x)   # export --io-dtype
    dtype = np.dtype(sig["inputs"][0]["dtype"])
    if meta.get("streaming"):
        steps = x.shape[1]
        data = pack_inputs([x.astype(dtype)], steps)
        state = sum(io["bytes"] for io in sig["inputs"][1:])
    else:
        steps, state = 1, 0
        data = pack_inputs([x[:, None].astype(dtype)], 1)
    res = run_qemu(Path(build["elf"]), board.simulator, data, timeout)
    ipt = instructions_per_tick(board.target.qemu_cpu_hz)
    return build_profile(board, build, plan, parse_profile(res.profile), ipt, "qemu", steps, state)
