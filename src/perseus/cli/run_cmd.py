"""`perseus run FILE.yaml`: run (or resume) an experiment, then show what it found."""

from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.common import (
    DbOption,
    QuietHostOption,
    RayOption,
    RepeatsOption,
    console,
    open_store,
    reports_dir,
    show_written,
)
from perseus.cli.progress import RichReporter
from perseus.core.errors import ConfigError
from perseus.experiments import profile
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
    machine: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="kind profile: the price catalog id of this host's machine type (overrides profile.machine)",
        ),
    ] = None,
    require_quiet_host: QuietHostOption = False,
    ray: RayOption = None,
    db: DbOption = None,
) -> None:
    """Run an experiment: peak, dedicated-vs-multitenant (paper Fig 1), frontier (Fig 2), qos-sweep,
    interference, knobs, profile (what `perseus plan` plans from) or deploy (what `plan --validate` runs).
    Finished trials are stored as they end; re-running the same file resumes it (Ctrl-C keeps what is
    done)."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report import render_results, write_report

    experiment = load_experiment(file)
    if repeats is not None:  # the flag overrides the file's `repeats:` (typer checked its bounds)
        experiment = experiment.model_copy(update={"repeats": repeats})
    source = Source(str(file))
    if machine is not None:
        if not isinstance(experiment, profile.Settings):
            raise ConfigError(
                f"--machine names the machine type a profile measures; {file} is kind {experiment.kind}"
            )
        measured = experiment.profile.model_copy(update={"machine": machine})
        experiment = experiment.model_copy(update={"profile": measured})
        source = Source(str(file), {"profile.machine": "--machine"})
    with open_store(db) as store:
        with RichReporter(console) as reporter:
            run_id = run_experiment(
                experiment,
                store,
                reporter,
                fresh=fresh,
                source=source,
                require_quiet_host=require_quiet_host,
                ray=ray,
            )
        results = experiment_results(store, run_id)
    render_results(results, console)
    if report:
        show_written(write_report(results, reports_dir(run_id)))
    console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
