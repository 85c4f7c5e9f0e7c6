"""`perseus report RUN_ID`: tables, PNG figures and one self-contained HTML file; raw data as CSV/Parquet."""

from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.common import DbOption, console, open_store, reports_dir, show_written
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
    """Report a stored run: what an experiment found (tables, PNG figures and one HTML page, with
    provenance), or how a bench run's trial came out.

    The HTML report and figures go to $PERSEUS_HOME/reports/run-ID/ (or --out); for a frontier run also
    frontier.csv, which `perseus savings --frontier` reads. --export writes the raw trials, requests and
    telemetry of any run."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report import export_run, render_results, write_report
    from perseus.report.runs import BENCH_KIND, bench_table
    from perseus.report.tables import print_table

    if export not in (None, "csv", "parquet"):
        raise ConfigError(f"--export must be csv or parquet, got {export!r}")
    folder = out or reports_dir(run_id)
    with open_store(db) as store:
        run = store.run(run_id)
        if export is not None:
            for path in export_run(store, run_id, folder, export):  # type: ignore[arg-type]
                console.print(f"exported {path}")
        if run.kind != RUN_KIND:
            trials = store.trials(run_id)
            if run.kind != BENCH_KIND or not trials:
                raise ConfigError(
                    f"run {run_id} ({run.kind}, {run.status}) stored no trial to report"
                    + ("" if export else f"; its settings: perseus report {run_id} --export csv")
                )
            print_table(bench_table(run, trials), console)
            if export is None:
                console.print(
                    f"[dim]a bench run is reported here only; its raw requests and telemetry: "
                    f"perseus report {run_id} --export csv (or parquet)[/dim]"
                )
            return
        results = experiment_results(store, run_id)
    render_results(results, console)
    show_written(write_report(results, folder))
