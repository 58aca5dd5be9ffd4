"""The `edgeformer` command line: human tables by default, `--json` for scripts.

Exit codes (CONTRACT.md): 0 ok, 2 bad input or missing tool, 3 does not fit, 1 anything else.
Library code raises; only this module turns errors into exit codes.
"""
from __future__ import annotations

import json
import os
import signal
import sys

import click
from rich.console import Console
from rich.table import Table

from edgeformer.errors import EdgeformerError

# Piped output (CI logs, `| less`) gets wide tables instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)  # stdout: tables, or the one JSON object
err = Console(stderr=True, soft_wrap=True)  # stderr: progress and messages, one line each


class EdgeformerGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgeformerError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt as e:
            err.print("terminated" if isinstance(e, Terminated) else "interrupted")
            sys.exit(143 if isinstance(e, Terminated) else 130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except PermissionError as e:
            where = f" {e.filename}" if e.filename else ""
            _fail(f"permission denied:{where} cannot be written or read; choose another path or fix its "
                  f"permissions", 2)
        except MemoryError:
            _fail("out of memory: the input is larger than this machine can hold; use smaller inputs or a smaller "
                  "model", 2)
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            _fail(f"{e.strerror or type(e).__name__}{where}; check the path and free disk space", 2)
        except Exception as e:  # a bug of ours: one line, and the traceback on request
            if os.environ.get("EDGEFORMER_DEBUG"):
                raise
            first = str(e).splitlines()[0] if str(e) else ""
            _fail(f"internal error {type(e).__name__}: {first[:300]} (set EDGEFORMER_DEBUG=1 for the traceback, "
                  f"and please report it)", 1)


def _fail(msg: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    sys.exit(code)


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
    cols = ["inputs", "top1_agreement", "max_abs_diff", "max_abs_diff_steps", "passed"]
    row = [result["inputs"], f"{result['top1_agreement']:.4f}", f"{result['max_abs_diff']:.3g}",
           "-" if steps is None else f"{steps:.2f}", "yes" if result["passed"] else "NO"]
    if "accuracy" in result:   # test-split labels: the C build's accuracy and onnxruntime's
        cols += ["accuracy", "reference_accuracy"]
        row += [f"{result['accuracy']:.4f}", f"{result['reference_accuracy']:.4f}"]
    print_table(title, cols, [row])


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so every `finally` cleans up on the way out."""


def _terminated(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    """The entry point: click's own usage errors also become one line (exit 2)."""
    # SIGTERM (a killed job, a CI timeout) unwinds like Ctrl-C, so temp folders are removed.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = cli.main(prog_name="edgeformer", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("interrupted")
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:   # bare `edgeformer`: the help, as click prints it
        click.echo(e.format_message(), err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        cmd = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx is not None else "edgeformer"
        _fail(f"{e.format_message()} (see `{cmd} --help`)", e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
