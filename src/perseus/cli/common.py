"""Options and helpers shared by several subcommands."""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from perseus.core.errors import ConfigError
from perseus.core.paths import default_db_path, perseus_home
from perseus.store import Store

if TYPE_CHECKING:  # the report layer loads matplotlib; commands import it only when they report
    from perseus.report.html import Written

# Piped output (logs, CI) gets a width that fits the tables instead of rich's 80-column default, unless
# COLUMNS says how wide it is (rich reads it).
console = Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)

RepeatsOption = Annotated[
    int | None,
    typer.Option(
        "--repeats",
        min=1,
        max=20,
        metavar="K",
        help="search each λ K times, each on a fresh server: λ, savings and $/1M then carry 90% intervals "
        "from their spread (1: each search's bracket only, which leaves out run-to-run spread)",
    ),
]
QuietHostOption = Annotated[
    bool,
    typer.Option(
        "--require-quiet-host",
        help="refuse to measure when a ~1 s look finds other servers or perseus processes running, or "
        "other processes using CPU (by default that is only said, and recorded with the run)",
    ),
]

RayOption = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS",
        help="measure independent placements side by side on a Ray cluster, one per node offering the "
        "perseus_node resource: auto (the cluster running on this machine, else a local one started and "
        "stopped with this command) or a cluster's host:port; needs the ray extra",
    ),
]

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Results store (SQLite). Default: $PERSEUS_HOME/results.db")
]


def open_store(db: Path | None) -> Store:
    return Store(db or default_db_path())


def reports_dir(run_id: int) -> Path:
    """Where a run's report goes unless --out says otherwise."""
    return perseus_home() / "reports" / f"run-{run_id}"


def show_written(written: "Written") -> None:
    """Where a report went: the HTML page, and each data file with what reads it."""
    console.print(f"report: {written.html}", soft_wrap=True)
    for path, use in written.data:
        console.print(f"data:   {path}  ({use})", soft_wrap=True)


def split_models(text: str) -> list[str]:
    models = [m.strip() for m in text.split(",") if m.strip()]
    if not models:
        raise ConfigError("--models needs at least one model name, e.g. --models resnet50,mobilenet_v2")
    return models
