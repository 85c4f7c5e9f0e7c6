"""`perseus plan PLAN.yaml`: the cheapest machines for a fleet of tenants, predicted from stored profiles;
with --validate, the plan (and the interference-blind one) deployed on this host and measured."""

import json
import re
from pathlib import Path
from typing import Annotated

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
from perseus.cli.errors import INVALID_EXIT, SLA_EXIT
from perseus.cli.progress import RichReporter
from perseus.config.plan import load_plan
from perseus.core.paths import perseus_home
from perseus.experiments.references import Source
from perseus.experiments.results import ExperimentResults
from perseus.orchestrate.planning import AWARE, REPLANNED, Planned, Validation, layout, plan_fleet

# The recommended plan's validation, as one line and an exit code (as `perseus bench`: 6 an SLA missed,
# 7 a measurement that could not be judged).
VERDICTS = {
    "held": ("validation: the plan held: every tenant met its SLA", 0),
    "missed": ("validation: the plan MISSED: a tenant's latency missed its SLA", SLA_EXIT),
    "unjudged": (
        "validation: the plan could not be judged: no SLA missed, but some tenant was in doubt",
        INVALID_EXIT,
    ),
}
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
            "rates open loop, and judge every tenant's SLA (the interference-blind plan too); exit 0 when "
            "the recommended plan held, 6 when it missed an SLA, 7 when it could not be judged"
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
    fresh: Annotated[
        bool, typer.Option(help="--validate: measure again even where this plan was validated before")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")] = False,
    require_quiet_host: QuietHostOption = False,
    ray: RayOption = None,
    db: DbOption = None,
) -> None:
    """Plan the cheapest machines for a fleet of tenants (model, rate, SLA) from measured profiles.

    Minimises $/h over the machine types profiled (MILP with HiGHS for up to 60 tenants, else first-fit
    decreasing), a tenant split across machines where it needs more than one; prints each machine with its
    tenants, predicted load and $/h, the totals against one model per machine (its tenants pooled, at its
    best setting, on its cheapest machines; each tenant alone beside it, labelled so) and against the
    interference-blind plan, and the LP lower bound. A plan
    is a prediction until --validate has measured it."""
    from perseus.report.plan import (
        checks_table,
        machines_table,
        plan_json,
        prediction_json,
        specs_note,
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
    validation = (
        Validation(
            lambda: RichReporter(console, quiet=json_out),
            machine,
            Source(str(file)),
            require_quiet_host,
            ray,
            fresh,
        )
        if validate
        else None
    )
    with open_store(db) as store:
        planned = plan_fleet(spec, store, extrapolate, method, validation)  # type: ignore[arg-type]
    found, checked, validated = planned.answer, planned.checks, planned.validated
    if json_out:
        data = plan_json(found)
        data["notes"] = planned.notes + data["notes"]
        data["prediction"] = prediction_json(checked)
        if planned.replanned is not None:
            again = planned.replanned
            data["replanned"] = {
                "host_speed": round(again.speed, 4),
                "lambda_factors": {k: round(v, 4) for k, v in again.factors.items()},
                "lambdas_now_rps": {k: round(v, 3) for k, v in again.lambdas_now.items()},
                **plan_json(again.answer),
            }
        if validated:
            data["validated"] = [validation_json(r) for _, r in validated]
            data["verdict"] = planned.verdict
            data["verdict_as_profiled"] = planned.verdict_of(AWARE)
        print(json.dumps(data, indent=2, default=str))
    else:
        specs = specs_note(found)
        for note in planned.notes + list(found.plan.notes) + ([specs] if specs else []):
            console.print(f"[yellow]· {note}[/yellow]")
        print_table(machines_table(found.plan, f"Plan {spec.name!r}: the machines to rent"), console)
        print_table(totals_table(found), console)
        if layout(found.blind) != layout(found.plan):
            title = (
                "The interference-blind plan's machines (loads as the interference-aware model predicts them)"
            )
            print_table(machines_table(found.blind, title, key="blind"), console)
        checks = checks_table(checked)
        if checks is not None:
            print_table(checks, console)
        figure = write_plan_figure(
            found, f"Plan {spec.name!r}", perseus_home() / "reports" / f"plan-{_slug(spec.name)}" / "plan.png"
        )
        console.print(f"figure: {figure}", soft_wrap=True)
        _show_validated([r for _, r in validated])
        _show_replanned(planned)
    verdict = planned.verdict
    if verdict is not None:
        line, code = VERDICTS[verdict]
        if planned.verdict_of(REPLANNED) is not None:
            as_profiled = planned.verdict_of(AWARE)
            line = f"{line.replace('the plan', 'the re-plan', 1)} (the plan as profiled: {as_profiled})"
        if not json_out:
            console.print(f"[bold]{line}[/bold]" if code == 0 else f"[bold red]{line}[/bold red]")
        if code:
            raise typer.Exit(code)


def _show_replanned(planned: Planned) -> None:
    """The fleet re-planned for the host's speed a validation measured, beside the plan as profiled."""
    from perseus.report.plan import machines_table, totals_table
    from perseus.report.tables import print_table

    again = planned.replanned
    if again is None:
        return
    factors = sorted(again.factors.values()) or [again.speed]
    console.print(
        f"[yellow]· this host served {again.speed:.2f}× the rate it did when profiled and the plan did not "
        f"hold: the fleet re-planned for today's speed, each model's λ × {factors[0]:.2f}–{factors[-1]:.2f} "
        + (
            "(its λ alone searched again now, at the setting the plan serves it at) "
            if again.lambdas_now
            else "(where its latency curve, every service time that much slower, meets its SLA) "
        )
        + f"(${again.answer.plan.usd_per_h:.3f}/h against ${planned.answer.plan.usd_per_h:.3f}/h as "
        "profiled)[/yellow]"
    )
    title = f"Re-planned for today's speed ({again.speed:.2f}× the profile's): the machines to rent"
    print_table(machines_table(again.answer.plan, title, key="replanned"), console)
    print_table(totals_table(again.answer), console)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "plan"


def _show_validated(validated: list[ExperimentResults]) -> None:
    from perseus.report import render_results, write_report

    for results in validated:
        render_results(results, console)
        show_written(write_report(results, reports_dir(results.run_id)))
