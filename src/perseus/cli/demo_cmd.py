"""`perseus demo`: the headline experiment — paper Fig 1 and Fig 2 for two models on this machine."""

import json
from typing import Annotated, Any

import typer

from perseus.cli.common import (
    DbOption,
    QuietHostOption,
    RepeatsOption,
    console,
    open_store,
    reports_dir,
    show_written,
    split_models,
)
from perseus.cli.progress import RichReporter
from perseus.core.errors import ConfigError
from perseus.core.interval import Estimate
from perseus.cost.saving import Alone
from perseus.experiments import frontier
from perseus.experiments.references import Source
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import ExperimentResults, experiment_results
from perseus.orchestrate.runner import run_experiment

# The demo's experiment is built from flags: a bad value is named by the flag that set it.
FLAGS = Source("perseus demo", {"models": "--models", "price.machines": "--machine"})


def against_json(against: dict[str, Alone]) -> dict[str, Any]:
    """What every saving is against: each model alone, its λ (with its interval) and its setting."""
    return {m: {"rps": a.rps, **_ends(a.lam), "setting": dict(a.setting)} for m, a in against.items()}


def _ends(est: Estimate) -> dict[str, float]:
    """The low and high ends of a figure's interval, to sit beside its value in JSON."""
    return {"low": est.low, "high": est.high}


def interval_json(est: Estimate) -> dict[str, Any]:
    """A figure with its interval: value, low, high, how many independent searches it rests on, and how
    the interval was made (bracket, t90, min-max, exact)."""
    return {**est.json(), "searches": est.searches, "interval": est.kind}


def demo_json(results: ExperimentResults) -> dict[str, Any]:
    findings = results.findings
    assert isinstance(findings, frontier.Findings)
    fig1, fig2 = findings.fig1, findings.fig2
    data: dict[str, Any] = {"run_id": results.run_id, "status": results.status, "warnings": results.warnings}
    if fig1 is not None:
        data.update(
            against=against_json(fig1.against),
            dedicated_rps={m: interval_json(p.total) for m, p in fig1.dedicated.items()},
            shared_rps={m: interval_json(fig1.shared.rate_of(m)) for m in fig1.shared.rates_rps},
            saving=interval_json(fig1.saving_interval),
            usd_per_1m={f"{c.placement} @ {c.machine}": interval_json(c.usd) for c in fig1.costs},
        )
    if fig2 is not None:
        data.update(
            frontier=[
                {**p.rates_rps, "saving": interval_json(p.saving_interval), "source": p.source}
                for p in fig2.points
            ],
            # The headline: the chosen point measured again after the choice (else the chosen one).
            max_saving=interval_json(fig2.headline.saving_interval),
            chosen_saving=interval_json(fig2.best.saving_interval),
            confirmed=fig2.confirmed is not None,
        )
    return data


def demo(
    models: Annotated[str, typer.Option(help="the two models, comma-separated")] = "resnet50,mobilenet_v2",
    sla_p95_ms: Annotated[
        float, typer.Option(min=0.001, help="SLA: 95th-percentile latency bound (paper: 750)")
    ] = 750.0,
    machine: Annotated[
        list[str] | None, typer.Option(help="priced machine id(s) from the catalog (repeatable)")
    ] = None,
    fractions: Annotated[
        str, typer.Option(help="Fig 2: hold the first model at these fractions of its peak")
    ] = "0.5",
    trial_s: Annotated[float, typer.Option(min=0.5, help="longest measured seconds per probe")] = 10.0,
    warmup_s: Annotated[float, typer.Option(min=0.0, help="discarded seconds before each probe")] = 2.0,
    tolerance: Annotated[float, typer.Option(min=0.005, max=0.5, help="peak search precision")] = 0.05,
    stability: Annotated[
        float,
        typer.Option(min=0.01, max=0.99, help="a probe is stable when its last 3 windows agree within ±this"),
    ] = 0.10,
    max_probes: Annotated[int, typer.Option(min=2, help="probes per peak search at most")] = 7,
    fresh: Annotated[bool, typer.Option(help="measure again even if this demo was run before")] = False,
    report: Annotated[
        bool,
        typer.Option(help="write report.html, figures and frontier.csv to $PERSEUS_HOME/reports/run-ID/"),
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
    repeats: RepeatsOption = None,
    require_quiet_host: QuietHostOption = False,
    db: DbOption = None,
) -> None:
    """The headline experiment: paper Fig 1 and Fig 2 for two models on this machine.

    ResNet-50 and MobileNetV2 on the embedded Triton: each model's peak req/s within the SLA alone
    (open-loop Poisson, bisection), both sharing one server (Fig 1), the first held at fractions of its
    peak while the second is pushed to its own (Fig 2); $ per 1M inferences and the saving
    1 − 1/(r_A/λ_A + r_B/λ_B). The same as `perseus run` with a frontier experiment file."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report import render_results, write_report

    pair = split_models(models)
    if len(pair) != 2:
        raise ConfigError(f"--models needs exactly two models, got {len(pair)}")
    try:
        held = [float(f) for f in fractions.split(",") if f.strip()]
    except ValueError:
        raise ConfigError(f"--fractions must be numbers like 0.25,0.5, got {fractions!r}") from None
    experiment = parse_experiment(
        {
            "name": "demo",
            "kind": frontier.NAME,
            "description": "perseus demo: Fig 1 and Fig 2 on this machine",
            "models": pair,
            "sla": f"p95={sla_p95_ms:g}ms",
            "frontier": {"fractions": held},
            "search": {"tolerance": tolerance, "max_probes": max_probes},
            "repeats": repeats or 1,
            "trial": {
                "warmup_s": warmup_s,
                # A trial also waits for each tenant's 100 latencies (its p95's), so short ones need not
                # be fixed-length: the default (10 s) still measures 4 s at least.
                "min_duration_s": min(4.0, trial_s / 2),
                "max_duration_s": trial_s,
                "tolerance": stability,
            },
            "price": {"machines": machine or ["gcp-n2-standard-2"]},
        },
        "demo",
    )
    with open_store(db) as store:
        with RichReporter(console, quiet=json_out) as reporter:
            run_id = run_experiment(
                experiment, store, reporter, fresh=fresh, source=FLAGS, require_quiet_host=require_quiet_host
            )
        results = experiment_results(store, run_id)
    if json_out:
        print(json.dumps(demo_json(results)))
        return
    render_results(results, console)
    if report:
        show_written(write_report(results, reports_dir(run_id)))
    console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
