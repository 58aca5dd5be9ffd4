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


PART_SEP = "\x1f"
OVERHEAD = "loop overhead"


def _part(name: str, n_slots: int) -> tuple[int, str, str] | None:
    """(loop op index, module path, role) of a part slot's name, None for an op's name."""
    f = name.split(PART_SEP)
    if len(f) == 3 and f[0].isdigit() and int(f[0]) < n_slots:
        return int(f[0]), f[1], f[2]
    return None


def split_parts(slots: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], dict[int, list[tuple[str, str, int]]]]:
    """profile.bin's slots -> the ops, and per loop op index its parts [(module, role, count)]."""
    ops, parts = [], {}
    for name, count in slots:
        p = _part(name, len(slots))
        if p is None:
            ops.append((name, count))
        else:
            parts.setdefault(p[0], []).append((p[1], p[2], count))
    return ops, parts


def _with_parts(layer: dict, parts: list[tuple[str, str, int]], unit: str, scale) -> dict:
    rows = [{"name": m, "role": r, unit: scale(c)} for m, r, c in parts]
    rest = layer[unit] - sum(r[unit] for r in rows)
    if rest:
        rows.append({"name": OVERHEAD, "role": OVERHEAD, unit: rest})
    return {**layer, "parts": rows}


def _common_module(names: list[str]) -> str:
    out = []
    for comps in zip(*(n.split("/") for n in names)):
        if any(c != comps[0] for c in comps):
            break
        out.append(comps[0])
    return "/".join(out)


def group_layers(layers: list[dict], unit: str) -> list[dict]:
    """Layers summed per module (layer_group of the op's name; a row loop with parts: the
    module its parts share, e.g. 'blocks.0', not the first node's 'blocks.0/ln1'), with the
    parts summed per (module, role) across the group's loops."""
    groups: dict[str, dict] = {}
    for layer in layers:
        named = [p["name"] for p in layer.get("parts", []) if p["role"] != OVERHEAD]
        key = (_common_module(named) if named else "") or layer_group(layer["name"])
        g = groups.setdefault(key, {"name": key, unit: 0})
        g[unit] += layer[unit]
        for p in layer.get("parts", []):
            sub = g.setdefault("parts", {}).setdefault((p["name"], p["role"]), {**p, unit: 0})
            sub[unit] += p[unit]
    return [{**g, "parts": list(g["parts"].values())} if "parts" in g else g for g in groups.values()]


def build_profile(board: Board, build: dict[str, Any], plan: dict[str, Any], prof: dict[str, Any],
                  per_unit: int, mode: str, steps: int = 1, state_bytes: int = 0) -> dict[str, Any]:
    """prof: parse_profile() output (counts summed over prof['runs'] runs); per_unit converts
    counts to instructions (QEMU) or cycles (device, 1)."""
    runs = max(prof["runs"], 1)
    unit = "instructions" if mode == "qemu" else "cycles"
    ops, parts = split_parts(prof["ops"])

    def scale(c: int) -> int:
        return int(round(c * per_unit / runs))

    layers = [{"name": n, unit: scale(c)} for n, c in ops]
    layers = [_with_parts(layer, parts[i], unit, scale) if i in parts else layer for i, layer in enumerate(layers)]
    total = int(round((sum(c for _, c in ops) + prof["gap"]) * per_unit / runs))
    macs = int(plan["macs"])
    out: dict[str, Any] = {
        "board": board.name, "mode": mode, "core": board.core, "clock_hz": board.clock_hz,
        f"{unit}_total": total, "macs": macs, f"{unit}_per_mac": total / macs if macs else None,
        "layers": layers, "layer_groups": group_layers(layers, unit),
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


# Parts of a row loop, drawn under their layer group: one colour per kind of work.
ROLE_COLORS = {"norm": "#ccbb44", "attn.qkv": "#66ccee", "attn.scores": "#228833", "attn.softmax": "#ee6677",
               "attn.av": "#aa3377", "attn.proj": "#332288", "mlp": "#ee7733", "linear": "#999933"}


def profile_rows(profile: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    """(label, count, depth, role) per row of the profile's table and plot: each layer group,
    then (depth 1) its parts, the user's module and what it computes ('blocks.0/attn  softmax')."""
    unit = "instructions" if profile["mode"] == "qemu" else "cycles"
    rows = []
    for g in profile["layer_groups"]:
        rows.append((g["name"], g[unit], 0, ""))
        for p in g.get("parts", []):
            label = p["name"] if p["role"] == OVERHEAD else f"{p['name']}  {p['role']}"
            rows.append((label, p[unit], 1, p["role"]))
    return rows


def plot_profile(profile: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = "instructions" if profile["mode"] == "qemu" else "cycles"
    rows = profile_rows(profile)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(rows) + 1.2)))
    vals = np.array([r[1] for r in rows], dtype=float)
    colors = ["#4477aa" if r[2] == 0 else ROLE_COLORS.get(r[3], "#bbbbbb") for r in rows]
    ax.barh(range(len(rows)), vals / 1e3, color=colors)
    ax.set_yticks(range(len(rows)), [("    " * r[2]) + r[0] for r in rows], fontsize=8)
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


def profile_qemu(art, board: Board, build: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """One real test input (one sequence for streaming models; every input of a multi-input
    model) through the firmware in QEMU. `art`: an Artifact or its folder."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.qemu import instructions_per_tick, pack_inputs, parse_profile, run_qemu
    from edgeformer.runtime.verify import quantize_io, sample_feeds, sample_inputs

    a = open_artifact(art)
    sig, quant = a.signature, a.io_quant.get("inputs") or []
    if a.streaming:
        x, _ = sample_inputs(a, 1)
        x = quantize_io(quant[0] if quant else None, x)   # export --io-dtype
        steps = x.shape[1]
        data = pack_inputs([x.astype(np.dtype(sig["inputs"][0]["dtype"]))], steps)
        state = sum(io["bytes"] for io in sig["inputs"][1:])
    else:
        feeds, _ = sample_feeds(a, 1)
        steps, state = 1, 0
        data = pack_inputs([np.asarray(quantize_io(quant[i] if i < len(quant) else None, f),
                                       np.dtype(io["dtype"]))
                            for i, (f, io) in enumerate(zip(feeds, sig["inputs"]))], 1)
    res = run_qemu(Path(build["elf"]), board.simulator, data, timeout)
    ipt = instructions_per_tick(board.target.qemu_cpu_hz)
    rep = build_profile(board, build, a.plan, parse_profile(res.profile), ipt, "qemu", steps, state)
    spikes = spike_report(a, rep)
    if spikes:
        rep["spike_rates"] = spikes
    return rep


def spike_report(a, rep: dict[str, Any], n_inputs: int = 20) -> dict[str, Any] | None:
    """Spiking models: how often each spike-fed layer's inputs fired (export/spike_rates.py:
    onnxruntime on n_inputs real test inputs), with the layer's instructions where it is an op
    of its own (a layer inside a row loop is counted in the loop's part). None without spikes."""
    from edgeformer.export.spike_rates import spike_layers, spike_rates
    layers = spike_layers(a.reference)
    if not layers:
        return None
    layers, _, src = spike_rates(a.path, n_inputs, layers)
    ins = {x["name"]: x["instructions"] for x in rep["layers"]}
    return {"from": src, "layers": [{**{k: x[k] for k in ("layer", "loop", "event_driven", "k", "n", "rate")},
                                     "instructions": ins.get(x["layer"])} for x in layers]}
