"""`perseus plan PLAN.yaml`: the cheapest machines for a fleet of tenants, predicted from stored profiles;
with --validate, the plan (and the interference-blind one) deployed on this host and measured."""

import json
import re
from pathlib import Path
from typing import Annotated, Literal

import typer

from perseus.cli.common import (
    DbOption,
    QuietHostOption,
    RayOption,
    console,
    open_store,
    reports_dir,
    show_written,
)
from perseus.cli.progress import RichReporter
from perseus.config.plan import load_plan
from perseus.core.paths import perseus_home
from perseus.experiments.fleet import deploy_experiment, fleet_of, host_type, profiled_speed
from perseus.experiments.references import Source
from perseus.experiments.results import ExperimentResults, experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.planner.capacity import prediction_checks
from perseus.planner.problem import Plan
from perseus.planner.solve import answer

AWARE = "interference-aware"
EPILOG = "Example: perseus run experiments/profile-6cnn.yaml; perseus plan plans/fleet-6cnn.yaml --validate"


def plan(
    file: Annotated[
        Path,
        typer.Argument(metavar="PLAN", dir_okay=False, help="fleet plan YAML, e.g. plans/fleet-6cnn.yaml"),
    ],
    validate: Annotated[
        bool,
        typer.Option(
            help="deploy each planned machine of this host's type on the embedded server, drive the planned "
            "rates open loop, and judge every tenant's SLA (the interference-blind plan too); exit 1 when "
            "the recommended plan misses one"
        ),
    ] = False,
    machine: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="this host's machine type (catalog id) for --validate; default: the type profiled here",
        ),
    ] = None,
    extrapolate: Annotated[
        str | None,
        typer.Option(
            metavar="HOW",
            help="cores: also plan on listed types without a profile, λ scaled by vCPUs (each such machine "
            "flagged)",
        ),
    ] = None,
    method: Annotated[
        str | None, typer.Option(metavar="M", help="auto, milp or greedy (default: the file's, else auto)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")] = False,
    require_quiet_host: QuietHostOption = False,
    ray: RayOption = None,
    db: DbOption = None,
) -> None:
    """Plan the cheapest machines for a fleet of tenants (model, rate, SLA) from measured profiles.

    Minimises $/h over the machine types profiled (MILP with HiGHS for up to 60 tenants, else first-fit
    decreasing), a tenant split across machines where it needs more than one; prints each machine with its
    tenants, predicted load and $/h, the totals against all-dedicated (each tenant alone on its cheapest
    machines at its best setting) and against the interference-blind plan, and the LP lower bound. A plan
    is a prediction until --validate has measured it."""
    from perseus.report.plan import (
        checks_table,
        machines_table,
        plan_json,
        prediction_json,
        totals_table,
        validation_json,
        write_plan_figure,
    )
    from perseus.report.tables import print_table

    if extrapolate not in (None, "none", "cores"):
        raise typer.BadParameter(f"must be none or cores, got {extrapolate!r}", param_hint="--extrapolate")
    if method not in (None, "auto", "milp", "greedy"):
        raise typer.BadParameter(f"must be auto, milp or greedy, got {method!r}", param_hint="--method")
    spec = load_plan(file)
    with open_store(db) as store:
        fleet = fleet_of(spec, store, extrapolate)
        how: Literal["auto", "milp", "greedy"] = method or spec.method  # type: ignore[assignment]
        found = answer(fleet.problem, how, spec.time_limit_s)
        validated: list[tuple[str, ExperimentResults]] = []
        if validate:
            host = host_type(fleet, store, machine)
            speeds = profiled_speed(store, fleet.runs[host])
            plans = [(AWARE, found.plan)]
            if _layout(found.blind) != _layout(found.plan):  # the same machines need measuring once
                plans.append(("interference-blind", found.blind))
            for label, planned in plans:
                experiment = deploy_experiment(spec, fleet, planned, label, host, speeds)
                if experiment is None:
                    continue
                with RichReporter(console, quiet=json_out) as reporter:
                    run_id = run_experiment(
                        experiment,
                        store,
                        reporter,
                        source=Source(str(file)),
                        require_quiet_host=require_quiet_host,
                        ray=ray,
                    )
                validated.append((label, experiment_results(store, run_id)))
            if not validated:
                fleet.notes.append(
                    f"--validate: no planned machine is of this host's type ({host}): nothing measured"
                )
    checked = prediction_checks(p for p in fleet.profiles.values() if not p.extrapolated_from)
    if json_out:
        data = plan_json(found)
        data["notes"] = fleet.notes + data["notes"]
        data["prediction"] = prediction_json(checked)
        if validated:
            data["validated"] = [validation_json(r) for _, r in validated]
        print(json.dumps(data, indent=2, default=str))
    else:
        for note in fleet.notes + list(found.plan.notes):
            console.print(f"[yellow]· {note}[/yellow]")
        print_table(machines_table(found.plan, f"Plan {spec.name!r}: the machines to rent"), console)
        print_table(totals_table(found), console)
        checks = checks_table(checked)
        if checks is not None:
            print_table(checks, console)
        figure = write_plan_figure(
            found, f"Plan {spec.name!r}", perseus_home() / "reports" / f"plan-{_slug(spec.name)}" / "plan.png"
        )
        console.print(f"figure: {figure}", soft_wrap=True)
        _show_validated([r for _, r in validated])
    if any(label == AWARE and not r.findings.met for label, r in validated):
        raise typer.Exit(1)


def _layout(planned: Plan) -> list[tuple[str, list[tuple[str, float]]]]:
    return sorted((m.type, sorted(m.tenants.items())) for m in planned.machines)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "plan"


def _show_validated(validated: list[ExperimentResults]) -> None:
    from perseus.report import render_results, write_report

    for results in validated:
        render_results(results, console)
        show_written(write_report(results, reports_dir(results.run_id)))
