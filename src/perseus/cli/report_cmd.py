"""`perseus report RUN_ID`: tables, PNG figures and one self-contained HTML file; raw data as CSV/Parquet."""

from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.common import DbOption, console, open_store, reports_dir
from perseus.core.errors import ConfigError
from perseus.experiments.results import RUN_KIND, experiment_results


def report(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="a run id from `perseus runs list`")],
    out: Annotated[
        Path | None, typer.Option(file_okay=False, help="folder for report.html and figures")
    ] = None,
    export: Annotated[
        str | None, typer.Option(help="also write trials, requests and telemetry as csv or parquet")
    ] = None,
    db: DbOption = None,
) -> None:
    """Report a stored experiment run: what it found, with provenance (host, versions, git sha)."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report import export_run, render_results, write_report

    if export not in (None, "csv", "parquet"):
        raise ConfigError(f"--export must be csv or parquet, got {export!r}")
    folder = out or reports_dir(run_id)
    with open_store(db) as store:
        run = store.run(run_id)
        if export is not None:
            for path in export_run(store, run_id, folder, export):  # type: ignore[arg-type]
                console.print(f"exported {path}")
        if run.kind != RUN_KIND:
            if export is None:
                raise ConfigError(
                    f"run {run_id} is a {run.kind} run; reports cover experiments (perseus run FILE.yaml)"
                    " — use --export to get its raw data"
                )
            return
        results = experiment_results(store, run_id)
    render_results(results, console)
    console.print(f"report: {write_report(results, folder)}")
