"""How every perseus command and command group is built, so `--help` reads well in an 80-column terminal:
click's plain help (typer's rich panels cut option names and squeeze descriptions to a word per line at
80 columns), one vocabulary of value names (`--rate REQ/S`, never `<float range>`; a flag shows none),
arguments named like values (`FILE`, not `file <file>`), and each command's whole first sentence in a
group's list; and usage mistakes as one line with exit code 2."""

import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import typer
from typer._click import Context, HelpFormatter  # typer (pinned <0.30) vendors click as typer._click
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from perseus.orchestrate.targets import BACKENDS
from perseus.serving.export_repo import FORMATS

USAGE_EXIT = 2

# What the value of an option of that name is, the same on every command. An option not named here is
# named by its type (below); a `metavar=` where it is declared wins over both.
VALUE_NAMES: dict[str, str] = {
    "arrival": "poisson|constant",
    "backend": "|".join(BACKENDS),
    "concurrency_range": "START:END[:STEP]",
    "config": "FILE",
    "db": "FILE",
    "export": "csv|parquet",
    "fit": "quadratic",
    "fmt": "|".join(FORMATS),
    "fractions": "FRACTIONS",
    "frontier": "FILE",
    "gpus": "IDS",
    "host": "ADDRESS",
    "kind": "gpu|cpu",
    "latency_threshold": "MS",
    "machine": "MACHINE_ID",
    "measurement_interval": "MS",
    "metrics_url": "URL",
    "mix": "MODEL=REQ/S,...",
    "model": "MODELS",
    "models": "MODELS",
    "out": "DIR",
    "peak": "MODEL=REQ/S",
    "percentile": "N",
    "pin": "MODEL=CPUS",
    "preferred_batch_sizes": "SIZES",
    "protocol": "grpc|http",
    "rate": "REQ/S",
    "request_rate_range": "START:END[:STEP]",
    "run_dir": "DIR",
    "sla": "pNN=TIME",
    "stability": "FRACTION",
    "stability_percentage": "PERCENT",
    "tolerance": "FRACTION",
    "trace": "FILE",
    "url": "HOST:PORT",
}
# Units a name ends with, for a number whose name says what it counts.
_UNITS = (("_port", "PORT"), ("_ms", "MS"), ("_s", "SECONDS"))
# Options that take seconds without saying so in their name.
_SECONDS = {"duration", "warmup", "timeout", "ready_timeout", "telemetry_interval"}


def value_name(option: TyperOption) -> str | None:
    """What --help shows after the option: nothing for a flag, else the value's name."""
    if option.is_flag or option.count:
        return None
    if option.metavar is not None:
        return option.metavar
    name = option.name or ""
    if name in VALUE_NAMES:
        return VALUE_NAMES[name]
    if name in _SECONDS:
        return "SECONDS"
    described = option.type_descriptor
    if described.is_path:
        return described.path_type.upper()
    annotation = described.annotation
    if described.is_list:
        (annotation,) = getattr(annotation, "__args__", (str,))
    if annotation in (int, float):
        unit = next((word for end, word in _UNITS if name.endswith(end)), None)
        return unit or ("N" if annotation is int else "NUMBER")
    return "TEXT"


class Formatter(HelpFormatter):
    """click's help layout, wrapping only at spaces: click also breaks at hyphens, which splits values
    users copy (`synthetic-` / `sleep:service_ms=20`, `--no-` / `dynamic-batching`)."""

    def _wrap(self, text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
        wrapper = textwrap.TextWrapper(
            max(width, 10), initial_indent=indent if first is None else first, subsequent_indent=indent
        )
        wrapper.break_on_hyphens = False
        lines: list[str] = []
        for paragraph in re.split(r"\n\s*\n", text.strip()):
            # Lines of a paragraph join with one space; spaces within a line stay (`help  [default: …]`).
            joined = " ".join(line.strip() for line in paragraph.splitlines())
            lines += [*([""] if lines else []), *wrapper.wrap(joined)]
            wrapper.initial_indent = indent
        return lines

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write("\n".join(self._wrap(text, self.width, indent)) + "\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        """Names in a first column at most col_max wide (a longer name gets a line of its own), each
        description wrapped beside it."""
        first_col = min(max((len(name) for name, _ in rows), default=0), col_max) + col_spacing
        margin = " " * self.current_indent
        for name, text in rows:
            if not text:
                self.write(f"{margin}{name}\n")
                continue
            pad = " " * (first_col + self.current_indent)
            if len(name) <= first_col - col_spacing:
                lines = self._wrap(text, self.width, pad, f"{margin}{name:<{first_col}}")
            else:
                lines = [f"{margin}{name}", *self._wrap(text, self.width, pad)]
            self.write("\n".join(lines) + "\n")


class _Context(Context):
    formatter_class = Formatter


def _argument_name(argument: TyperArgument) -> str:
    name = argument.metavar or (argument.name or "").upper()
    return f"{name}..." if argument.nargs != 1 else name


class PerseusCommand(TyperCommand):
    """A typer command with the plain help described above."""

    context_class = _Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "rich_markup_mode": None})
        for param in self.params:
            if isinstance(param, TyperOption):
                param.metavar = value_name(param)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                # typer writes `file <file>`: the name once, as the usage line has it, reads better.
                arguments.append((_argument_name(param), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def first_sentence(command: Any) -> str:
    """A command's short help, or the first sentence of its help: up to a full stop followed by a capital
    letter, a `command`, or the end (not the one of `e.g.`)."""
    text = " ".join((command.short_help or command.help or "").split("\n\n")[0].split())
    return re.split(r"(?<=\.)\s+(?=[A-Z`])", text)[0]


class PerseusGroup(TyperGroup):
    """A typer group with plain help that lists each command with its whole first sentence (click cuts it
    to fit one line, mid-phrase)."""

    context_class = _Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "rich_markup_mode": None})

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, first_sentence(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


Function = TypeVar("Function", bound=Callable[..., Any])


class App(typer.Typer):
    """typer.Typer whose groups and commands are the ones above."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"add_completion": False, **kwargs, "cls": PerseusGroup, "rich_markup_mode": None})

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[[Function], Function]:
        return super().command(name, **{"cls": PerseusCommand, **kwargs})  # type: ignore[return-value]


def usage_line(exc: typer.TyperException) -> str | None:
    """A usage mistake (unknown option, bad or missing value) as one line naming the help to read, or None
    for a group called without a command (its help is the answer)."""
    if isinstance(exc, NoArgsIsHelpError):
        return None
    context = getattr(exc, "ctx", None)
    message = " ".join(exc.format_message().split())
    return message if context is None else f"{message.rstrip('.')} — see {context.command_path} --help"
