"""CLI commands: export, verify."""
from __future__ import annotations


import click

from edgeformer.cli import err, print_comparison, print_json, print_table
from edgeformer.errors import OutputMismatch


@click.command()
@click.argument("run_dir", required=False, type=click.Path())
@click.option("--model", "preset_name", help="export a preset (untrained, seeded) instead of a run")
@click.option("--onnx", "onnx_file", type=click.Path(), help="export an ONNX file from anywhere")
@click.option("--quantize", type=click.Choice(["int8", "float32"]), default="int8", show_default=True)
@click.option("--backend", type=click.Choice(["native", "tvm"]), default="native", show_default=True)
@click.option("--calib-dataset", help="calibration/verification dataset (default: the run's)")
@click.option("--board", "board_name", help="check the plan against this board's SRAM and flash (exit 3 if it "
              "does not fit); a name from `edgeformer boards` or a board .toml")
@click.option("--io-dtype", type=click.Choice(["float32", "int8", "uint8"]), default="float32", show_default=True,
              help="dtype of the C API's inputs/outputs: int8/uint8 fold the int8 model's edge Quantize/"
              "Dequantize into the caller's data (model.h gives each one's scale and zero point)")
@click.option("--name", "c_name", help="C prefix for every exported symbol and macro (NAME_run, NAME_ARENA_BYTES)")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x32x32",
              help="fix a dynamic input dimension of a foreign ONNX (repeatable)")
@click.option("--out", "art", required=True, type=click.Path(), help="artifact folder")
@click.option("--force", is_flag=True, help="write into a non-empty folder that is not an artifact "
              "(its other files are kept)")
@click.option("--json", "as_json", is_flag=True)
def export(run_dir, preset_name, onnx_file, quantize, backend, calib_dataset, board_name, io_dtype, c_name,
           input_shapes, art, force, as_json) -> None:
    """Lower a model to ONNX (+ int8) and C with a static memory plan."""
    from edgeformer.export.outdir import check_out
    from edgeformer.export.pipeline import (check_io_dtype, check_name, export_artifact, parse_input_shapes,
                                            resolve_source)

    # The cheap checks first: a bad --out or --name is answered before torch loads a model.
    check_name(c_name)
    check_io_dtype(io_dtype, quantize, backend)
    check_out(art, [x for x in (run_dir, onnx_file) if x], force)
    source = resolve_source(run_dir, preset_name, onnx_file, parse_input_shapes(input_shapes))
    meta = export_artifact(art, source, quantize=quantize, backend=backend, calib_dataset=calib_dataset,
                           log=lambda m: err.print(f"[dim]{m}[/]"), force=force, board=board_name, name=c_name,
                           io_dtype=io_dtype)
    plan = meta["plan"]
    if as_json:
        print_json({"art": str(art), **meta})
        return
    print_table(f"exported {source.label} ({quantize}, {backend}) -> {art}",
                ["arena_bytes", "liveness_bound_bytes", "unfused_liveness_bound_bytes", "no_reuse_bytes",
                 "weights_bytes", "macs"],
                [[plan["arena_bytes"], plan["liveness_bound_bytes"], plan["unfused_liveness_bound_bytes"],
                  plan["no_reuse_bytes"], plan["weights_bytes"], plan["macs"]]])


@click.command()
@click.argument("art", type=click.Path())
@click.option("--target", type=click.Choice(["host"]), default="host", show_default=True)
@click.option("--inputs", "n", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="number of test inputs")
@click.option("--sanitize", is_flag=True, help="build with AddressSanitizer + UBSan")
@click.option("--json", "as_json", is_flag=True)
def verify(art, target, n, sanitize, as_json) -> None:
    """Build the C code with the host compiler, run real test inputs, compare with onnxruntime."""
    from edgeformer.runtime.actions import verify_artifact

    result = verify_artifact(art, n, sanitize, target)
    if as_json:
        print_json(result)
    else:
        print_comparison(f"verify {art} on {target} vs onnxruntime ({result['reference']})", result)
    if not result["passed"]:
        raise OutputMismatch(f"{art}: C output disagrees with onnxruntime (see the table)")


COMMANDS = (export, verify)
