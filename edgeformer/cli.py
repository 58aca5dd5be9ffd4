"""The `edgeformer` command line: human tables by default, `--json` for scripts.

Exit codes (CONTRACT.md): 0 ok, 2 bad input or missing tool, 3 does not fit, 1 anything else.
Library code raises; only this module turns errors into exit codes.
"""
from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from edgeformer.errors import EdgeformerError

# Piped output (CI logs, `| less`) gets wide tables instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)  # stdout: tables, or the one JSON object
err = Console(stderr=True)      # stderr: progress and messages


class EdgeformerGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgeformerError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)


def print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True))


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, justify="right" if c not in ("name", "family", "core", "simulator", "board") else "left")
    for r in rows:
        table.add_row(*[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in r])
    out.print(table)


def print_comparison(title: str, result: dict) -> None:
    """The verify/run table: our C output against the onnxruntime reference."""
    steps = result["max_abs_diff_steps"]
    print_table(title, ["inputs", "top1_agreement", "max_abs_diff", "max_abs_diff_steps", "passed"],
                [[result["inputs"], f"{result['top1_agreement']:.4f}", f"{result['max_abs_diff']:.3g}",
                  "-" if steps is None else f"{steps:.2f}", "yes" if result["passed"] else "NO"]])


@click.group(cls=EdgeformerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgeformer")
def cli() -> None:
    """edgeformer: tiny transformers from a memory budget to a Cortex-M binary."""


def _register() -> None:
    from edgeformer import cmd_model

    for command in cmd_model.COMMANDS:
        cli.add_command(command)
    for mod_name in ("edgeformer.export.commands", "edgeformer.runtime.commands", "edgeformer.nas.commands"):
        try:
            mod = __import__(mod_name, fromlist=["COMMANDS"])
        except ModuleNotFoundError as e:
            if e.name != mod_name:
                raise
            continue
        for command in mod.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="edgeformer")


if __name__ == "__main__":
    main()
