"""`perseus savings`: the saving of sharing at each point of a frontier measured anywhere, against the
dedicated peaks the file or the user gives, and saying where each came from."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from perseus.cli.common import console
from perseus.config.frontier import read_frontier
from perseus.core.units import parse_model_rates
from perseus.cost.frontier import GIVEN, FrontierSavings, frontier_savings

# A saving against a dedicated server at a poor setting (one instance on a 2-core machine) credits sharing
# with what tuning the dedicated server would have saved; the command cannot know, so it says so.
CAVEAT = (
    "a saving is only as good as these peaks: each should be the model's λ alone at its best dedicated "
    "setting (the cheapest way to serve it alone)"
)


def savings_json(result: FrontierSavings) -> dict[str, Any]:
    a, b = result.models
    data: dict[str, Any] = {
        "peaks": result.peaks,
        "peaks_from": result.peaks_from,
        "caveat": CAVEAT,
        "points": [{a: r_a, b: r_b, "saving": s} for r_a, r_b, s in result.points],
        "max_saving": result.max_saving,
    }
    if result.fit_max_saving is not None:
        data["fit_max_saving"] = result.fit_max_saving
        data["fit_at"] = dict(zip(result.models, result.fit_at or (), strict=True))
    return data


def savings(
    frontier: Annotated[
        Path,
        typer.Option(dir_okay=False, help="CSV: a header naming the two models, then feasible r_A,r_B rows"),
    ],
    peak: Annotated[
        list[str] | None,
        typer.Option(
            help="a model's dedicated peak λ in req/s at its best dedicated setting (repeatable); a slower "
            "setting's λ overstates the saving; default: the file's row where the other model is 0"
        ),
    ] = None,
    fit: Annotated[
        str | None, typer.Option(help="quadratic: fit r_B(r_A) and report the best saving along the curve")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print one JSON object (fractions, not %)")
    ] = False,
) -> None:
    """The saving of sharing at each point of a frontier measured anywhere (a CSV).

    At each feasible pair (r_A, r_B) the saving is 1 − 1/(r_A/λ_A + r_B/λ_B); negative means the shared
    server carries less than dedicated servers would (sharing loses). The saving is only as good as the
    dedicated peaks λ: each should be the model's peak alone at its best dedicated setting, else the saving
    is against a crippled dedicated server. `perseus report RUN` of a frontier run writes frontier.csv in
    this shape, its λ rows the run's dedicated peaks (a comment names their setting)."""
    result = frontier_savings(read_frontier(frontier), parse_model_rates(peak or [], "--peak"), fit)
    if json_out:
        print(json.dumps(savings_json(result)))
        return
    a, b = result.models
    table = Table(title=f"Saving of sharing along {frontier.name}")
    for column in (f"{a} req/s", f"{b} req/s", "Σ r/λ (machines)", "saving"):
        table.add_column(column, justify="right")
    for r_a, r_b, saving in result.points:
        machines = 1 / (1 - saving)
        style = "bold" if saving == result.max_saving else None
        table.add_row(f"{r_a:.2f}", f"{r_b:.2f}", f"{machines:.3f}", f"{saving:+.1%}", style=style)
    console.print(table)
    console.print(
        "dedicated peaks: "
        + ", ".join(f"λ_{m} = {result.peaks[m]:.2f} req/s ({_source(result, m)})" for m in result.models)
    )
    console.print(f"[dim]{CAVEAT}[/dim]")
    console.print(f"[bold]best measured saving: {result.max_saving:+.1%}[/bold]")
    if result.fit_max_saving is not None and result.fit_at is not None:
        console.print(
            f"quadratic fit: best saving {result.fit_max_saving:+.1%} at "
            f"{a} = {result.fit_at[0]:.2f}, {b} = {result.fit_at[1]:.2f} req/s"
        )


def _source(result: FrontierSavings, model: str) -> str:
    if result.peaks_from[model] == GIVEN:
        return "--peak"
    other = result.models[1 - result.models.index(model)]
    return f"the file's best row with {other} at 0"
