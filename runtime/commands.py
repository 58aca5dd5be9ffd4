"""CLI commands: boards, build, run, profile, flash, reference."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import click

from edgeformer.cli import err, print_comparison, print_json, print_table
from edgeformer.errors import EdgeformerError, OutputMismatch, UserError

DEFAULT_BOARD = "stm32f746g-disco"
TOP_LAYERS = 15          # the profile table shows the heaviest layers; profile.json has every op
_art = click.argument("art", type=click.Path())
_board = click.option("--board", "board_name", default=DEFAULT_BOARD, show_default=True,
                      help="board name (see `edgeformer boards`) or a path to a board .toml")
_json = click.option("--json", "as_json", is_flag=True)


def _log(msg: str) -> None:
    err.print(f"[dim]{msg}[/]")


def _build(art: str, board_name: str, image: str = "sim"):
    from edgeformer.runtime.actions import build_artifact
    return build_artifact(art, board_name, image, log=_log)


@click.command()
@_json
def boards(as_json) -> None:
    """List the boards: core, SRAM, flash, clock, simulator stand-in."""
    from edgeformer.runtime.boards import list_boards

    rows = [b.summary() for b in list_boards()]
    if as_json:
        print_json({"boards": rows})
        return
    cols = ["name", "core", "sram_bytes", "flash_bytes", "clock_hz", "simulator", "probes"]
    print_table("boards", cols, [[r[c] if c != "probes" else ", ".join(r[c]) or "-" for c in cols] for r in rows])


@click.command()
@_art
@_board
@click.option("--image", type=click.Choice(["sim", "device"]), default="sim", show_default=True,
              help="sim: linked for the QEMU stand-in (board sizes); device: the board's real addresses")
@_json
def build(art, board_name, image, as_json) -> None:
    """Cross-compile ART for a board; sizes from the ELF."""
    board, rec = _build(art, board_name, image)
    if as_json:
        print_json(rec)
        return
    print_table(f"build {art} for {board.name} ({board.core}, {image} image) -> {rec['elf']}",
                ["flash_bytes", "ram_bytes", "arena_bytes", "sram_bytes", "flash_capacity_bytes"],
                [[rec["flash_bytes"], rec["ram_bytes"], rec["arena_bytes"], rec["sram_bytes"],
                  rec["flash_capacity_bytes"]]])


@click.command()
@_art
@_board
@click.option("--sim", type=click.Choice(["qemu"]), default="qemu", show_default=True)
@click.option("--inputs", "n", type=click.IntRange(1, 100000), default=20, show_default=True)
@click.option("--io", type=click.Choice(["semihosting", "uart"]), default="semihosting", show_default=True,
              help="how the firmware gets inputs and returns outputs: host files over semihosting, or inputs "
                   "built into flash and outputs streamed out of the UART (what pyOCD / st-flash boards use)")
@click.option("--image", type=click.Choice(["sim", "device"]), default="sim", show_default=True,
              help="with --io uart: sim, the image linked for the board's stand-in; device, the image a probe "
                   "flashes, run on the QEMU machine that emulates the board's part (boards with `emulator`)")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300, show_default=True,
              help="hard limit in seconds for the emulator run")
@_json
def run(art, board_name, sim, n, io, image, timeout, as_json) -> None:
    """Run ART on the simulated board with real test inputs; compare with onnxruntime."""
    from edgeformer.runtime.actions import run_artifact, run_uart_artifact

    if io == "uart":
        result = run_uart_artifact(art, board_name, image, n, timeout, log=_log)
    elif image == "device":
        raise UserError("--image device runs the UART read-back image; add --io uart")
    else:
        result = run_artifact(art, board_name, n, timeout, log=_log)
    if result["inputs"] < n:  # the test split is smaller than --inputs: say what actually ran
        _log(f"ran {result['inputs']} inputs, not {n}: that is all the test split has ({result['input_source']})")
    if as_json:
        print_json(result)
    else:
        print_comparison(f"run {art} on {result['board']} (QEMU {result['simulator']}, {io}) vs onnxruntime "
                         f"({result['reference']})", result)
    if not result["passed"]:
        raise OutputMismatch(f"{art}: firmware output on {result['board']} disagrees with onnxruntime (see the table)")


def _print_profile(art, prof) -> None:
    unit = "instructions" if prof["mode"] == "qemu" else "cycles"
    total = prof[f"{unit}_total"]
    per = " per step" if prof.get("per") == "step" else ""
    top = sorted(prof["layer_groups"], key=lambda g: -g[unit])
    from edgeformer.runtime.profile import profile_rows
    # the top groups, each with its fused row loop's parts (the user's own graph parts) beneath
    table = profile_rows({**prof, "layer_groups": top[:TOP_LAYERS]})
    rows = [["  " * depth + label, n, f"{100 * n / total:.1f}%"] for label, n, depth, _ in table]
    if len(top) > TOP_LAYERS:
        rest = sum(g[unit] for g in top[TOP_LAYERS:])
        rows.append([f"other ({len(top) - TOP_LAYERS} layers)", rest, f"{100 * rest / total:.1f}%"])
    print_table(f"profile {art} on {prof['board']} ({prof['mode']}): {unit}{per} per layer", ["name", unit, "share"],
                rows)
    est = "estimated from instruction count" if prof["mode"] == "qemu" else "measured"
    summary = [[total, prof["macs"], f"{prof[f'{unit}_per_mac']:.2f}", f"{prof['est_latency_ms']:.3f} ({est})",
                prof["ram_bytes"], prof["flash_bytes"]]]
    cols = [f"{unit}_total", "macs", f"{unit}/MAC", f"latency_ms @ {prof['clock_hz'] / 1e6:.0f} MHz", "ram_bytes",
            "flash_bytes"]
    if prof.get("per") == "step":
        cols += ["steps", "state_bytes", "sequence_ms"]
        summary[0] += [prof["steps"], prof["state_bytes"], f"{prof['est_sequence_latency_ms']:.3f}"]
    print_table(f"totals{per}", cols, summary)
    spikes = prof.get("spike_rates")   # spiking models: how often each spike-fed layer's inputs fired
    if spikes:
        print_table(f"spike rates ({spikes['from']}, onnxruntime)", ["layer", "kernel", "k x n", "spike rate", unit],
                    [[x["layer"] + (" (in a row loop)" if x.get("loop") else ""),
                      "event-driven" if x["event_driven"] else "dense", f"{x['k']} x {x['n']}",
                      f"{x['rate']:.3f}", x["instructions"] if x["instructions"] is not None else "-"]
                     for x in spikes["layers"]])


@click.command()
@_art
@_board
@click.option("--sim", type=click.Choice(["qemu"]), default="qemu", show_default=True)
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300, show_default=True)
@_json
def profile(art, board_name, sim, timeout, as_json) -> None:
    """Per-layer instruction counts, estimated latency, SRAM, flash -> profile.json, profile.png."""
    from edgeformer.runtime.actions import profile_artifact

    prof = profile_artifact(art, board_name, timeout, log=_log)
    if as_json:
        print_json(prof)
    else:
        _print_profile(art, prof)
        err.print(f"wrote {Path(art) / 'profile.json'}, {Path(art) / 'profile.png'}")


@click.command()
@_art
@_board
@click.option("--probe", type=click.Choice(["openocd", "pyocd", "stlink"]), required=True)
@click.option("--port", help="the board's USB-serial port for UART read-back (pyocd, stlink), e.g. /dev/ttyACM0")
@click.option("--inputs", "n", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="test inputs built into the UART image")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=120, show_default=True,
              help="seconds to wait for the board's UART stream")
@_json
def flash(art, board_name, probe, port, n, timeout, as_json) -> None:
    """Flash the hardware image through a debug probe and read outputs and the cycle profile back
    (OpenOCD: semihosting through the probe; pyOCD / st-flash: the board's UART with --port)."""
    from edgeformer.runtime.artifact import open_artifact
    from edgeformer.runtime.boards import load_board
    from edgeformer.runtime.flash import check_port, check_probe

    opened = open_artifact(art)
    board = load_board(board_name)
    kind = check_probe(board, probe)       # before anything is built or written
    if port is not None:
        check_port(board, probe, port)
    result = {"board": board.name, "probe": probe, "probe_kind": kind}
    if probe == "openocd" or port is None:
        board, rec = _build(opened, board_name, "device")
        result.update(_flash_semihosted(opened, board, probe, rec))
        if probe != "openocd":
            _log("no --port: flashed only; give --port to read outputs and the profile back over the UART")
    else:
        result.update(_flash_uart(opened, board, probe, port, n, timeout))
    if as_json:
        print_json(result)
    else:
        print_table(f"flashed {board.name} via {probe}", ["board", "probe", "elf", "read_back"],
                    [[board.name, probe, result["elf"], result.get("read_back", "none")]])
    if result.get("passed") is False:
        raise OutputMismatch(f"{art}: outputs read back from {board.name} disagree with onnxruntime")


def _run_flash(cmds, cwd) -> None:
    for cmd in cmds:
        _log(" ".join(cmd))
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise EdgeformerError(f"{cmd[0]} failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")


def _device_profile(art, board, rec, raw: bytes) -> dict:
    from edgeformer.runtime.profile import build_profile, write_profile
    from edgeformer.runtime.qemu import parse_profile
    prof = build_profile(board, rec, art.plan, parse_profile(raw), 1, "device")
    write_profile(art.path, prof)
    return prof


def _flash_semihosted(art, board, probe, rec) -> dict:
    from edgeformer.runtime.flash import flash_commands
    with tempfile.TemporaryDirectory(prefix="edgeformer-flash-") as tmp:
        _run_flash(flash_commands(board, probe, Path(rec["elf"]), Path(tmp) / "firmware.bin"), tmp)
        out = {"elf": rec["elf"], "flashed": True}
        if probe == "openocd" and (Path(tmp) / "profile.bin").exists():
            out["cycles_total"] = _device_profile(art, board, rec, (Path(tmp) / "profile.bin").read_bytes())[
                "cycles_total"]
            out["read_back"] = "semihosting"
    return out


def _flash_uart(art, board, probe, port, n, timeout) -> dict:
    """Build the UART image with n test inputs inside, flash it, read the stream, compare."""
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.flash import flash_commands
    from edgeformer.runtime.simrun import run_compare
    from edgeformer.runtime.uart import read_serial

    done = {}

    def execute(data: bytes) -> bytes:
        rec = build_firmware(art, board, "device", log=_log, io="uart", samples=data)
        with tempfile.TemporaryDirectory(prefix="edgeformer-flash-") as tmp:
            _run_flash(flash_commands(board, probe, Path(rec["elf"]), Path(tmp) / "firmware.bin"), tmp)
        _log(f"reading the UART stream on {port} at {board.uart.baud} baud")
        res = read_serial(port, board.uart.baud, timeout)
        done.update(build=rec, profile=res.profile)
        return res.out

    res = run_compare(art, execute, n)
    prof = _device_profile(art, board, done["build"], done["profile"])
    return {"elf": done["build"]["elf"], "flashed": True, "read_back": f"uart {port}", "passed": res["passed"],
            "max_abs_diff": res.get("max_abs_diff"), "top1_agreement": res.get("top1_agreement"),
            "cycles_total": prof["cycles_total"]}


@click.command()
@_art
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True)
@click.option("--engine", type=click.Choice(["torch", "onnxruntime", "tvm"]), default="onnxruntime",
              show_default=True)
@click.option("--inputs", "n", type=click.IntRange(1, 100000), default=64, show_default=True)
@_json
def reference(art, device, engine, n, as_json) -> None:
    """GPU (or CPU) reference build: throughput and max_abs_diff against the MCU's C outputs."""
    import warnings

    from edgeformer.runtime.reference import reference as run_reference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # TVM's ONNX importer warns about every renamed input
        res = run_reference(Path(art), device, engine, n)
    if res["device_used"] != device:
        err.print(f"[yellow]no CUDA for {engine}: ran on {res['device_used']}[/] ({res['note']})")
    if as_json:
        print_json(res)
        return
    print_table(f"reference {art}: {engine} on {res['device_used']} vs the artifact's C outputs",
                ["inputs", "device_used", "throughput_per_s", "max_abs_diff", "top1_agreement"],
                [[res["inputs"], res["device_used"], f"{res['throughput_per_s']:.1f}", f"{res['max_abs_diff']:.3g}",
                  f"{res['top1_agreement']:.4f}"]])


COMMANDS = (boards, build, run, profile, flash, reference)
