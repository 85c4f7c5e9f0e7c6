"""Assemble the typer app and run it with one-line errors and clean interrupts, after removing what
perseus processes that died left running."""

import sys

import typer
from rich.markup import escape

from perseus.cli import (
    bench_cmd,
    demo_cmd,
    models_cmd,
    plan_cmd,
    repo_cmd,
    report_cmd,
    run_cmd,
    runs_cmd,
    savings_cmd,
    serve_cmd,
)
from perseus.cli.commands import USAGE_EXIT, App, usage_line
from perseus.cli.errors import err_console, fail, install_signal_handlers, interrupted, usage_error
from perseus.core.errors import PerseusError
from perseus.serving.orphans import sweep

app = App(
    name="perseus",
    help="Measure throughput, latency and the monetary cost of serving CNN models multi-tenant vs dedicated "
    "on a real Triton server, and what sharing saves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(repo_cmd.app, name="repo")
app.command("serve")(serve_cmd.serve)
app.command("bench", epilog=bench_cmd.EPILOG)(bench_cmd.bench)
app.command("demo")(demo_cmd.demo)
app.command("savings")(savings_cmd.savings)
app.command("run")(run_cmd.run)
app.command("report")(report_cmd.report)
app.command("plan", epilog=plan_cmd.EPILOG)(plan_cmd.plan)


def sweep_leftovers() -> None:
    """Before any command: remove the servers, stubs and /dev/shm regions of perseus processes that
    died without cleaning up, and say so on stderr (stdout may be a --json object)."""
    removed = sweep()
    if removed:
        err_console.print(f"[dim]· {escape(removed)}[/dim]")


def main() -> None:
    install_signal_handlers()
    try:
        sweep_leftovers()
        code = app(standalone_mode=False, prog_name="perseus")
    except PerseusError as exc:
        sys.exit(fail(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(interrupted())
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # a usage mistake, caught by the (vendored) click under typer
        line = usage_line(exc)
        if line is None:  # a group called without a command: its help says what there is
            print(exc.format_message(), file=sys.stderr)
            sys.exit(USAGE_EXIT)
        sys.exit(usage_error(line, exc.exit_code))
    if isinstance(code, int):
        sys.exit(code)
