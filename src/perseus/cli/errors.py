"""Map failures to one line on stderr and an exit code; SIGTERM behaves like Ctrl-C (clean teardown)."""

import signal
import sys
from types import FrameType

from rich.console import Console
from rich.markup import escape

from perseus.core.errors import PerseusError, SlaNotMetError

INTERRUPTED_EXIT = 130
INVALID_EXIT = 7  # perseus bench: a level's measurement is INVALID (1-6 are the PerseusError codes)
SLA_EXIT = SlaNotMetError.exit_code  # perseus bench: the SLA (or a sweep's threshold) missed from the start
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    """Ctrl-C and SIGTERM both unwind through every `with` block, so servers are stopped and reaped.

    SIGINT is (re)armed explicitly: a shell starts background jobs with SIGINT ignored.
    """
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def fail(exc: PerseusError) -> int:
    err_console.print(f"[red]error:[/red] {escape(str(exc))}")
    return exc.exit_code


def usage_error(line: str, exit_code: int) -> int:
    """A command line perseus cannot parse: one line (click's own usage errors exit with code 2)."""
    err_console.print(f"[red]error:[/red] {escape(line)}")
    return exit_code


def interrupted() -> int:
    print("interrupted; finished work is kept", file=sys.stderr)
    return INTERRUPTED_EXIT
