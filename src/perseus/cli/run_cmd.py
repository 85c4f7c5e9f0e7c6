"""`perseus run FILE.yaml`: run (or resume) an experiment, then show what it found."""

from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.common import (
    DbOption,
    QuietHostOption,
    RepeatsOption,
    console,
    open_store,
    reports_dir,
    show_written,
)
from perseus.cli.progress import RichReporter
from perseus.experiments.references import Source
from perseus.experiments.registry import load_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.runner import run_experiment


def run(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", dir_okay=False, help="experiment YAML, e.g. experiments/paper-fig1.yaml"
        ),
    ],
    fresh: Annotated[
        bool, typer.Option(help="measure again even if a run of this exact experiment exists")
    ] = False,
    report: Annotated[
        bool, typer.Option(help="also write report.html and figures to $PERSEUS_HOME/reports/run-ID/")
    ] = True,
    repeats: RepeatsOption = None,
    require_quiet_host: QuietHostOption = False,
    db: DbOption = None,
) -> None:
    """Run an experiment: peak, dedicated-vs-multitenant (paper Fig 1), frontier (Fig 2), qos-sweep,
    interference or knobs. Finished trials are stored as they end; re-running the same file resumes it
    (Ctrl-C keeps what is done)."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report import render_results, write_report

    experiment = load_experiment(file)
    if repeats is not None:  # the flag overrides the file's `repeats:` (typer checked its bounds)
        experiment = experiment.model_copy(update={"repeats": repeats})
    with open_store(db) as store:
        with RichReporter(console) as reporter:
            run_id = run_experiment(
                experiment,
                store,
                reporter,
                fresh=fresh,
                source=Source(str(file)),
                require_quiet_host=require_quiet_host,
            )
        results = experiment_results(store, run_id)
    render_results(results, console)
    if report:
        show_written(write_report(results, reports_dir(run_id)))
    console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
