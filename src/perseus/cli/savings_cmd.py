"""`perseus savings`: the saving of sharing at each point of a frontier measured anywhere."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from perseus.cli.common import console
from perseus.config.frontier import read_frontier
from perseus.core.units import parse_model_rates
from perseus.cost.frontier import FrontierSavings, frontier_savings


def savings_json(result: FrontierSavings) -> dict[str, Any]:
    a, b = result.models
    data: dict[str, Any] = {
        "peaks": result.peaks,
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
            help="a model's dedicated peak λ in req/s (repeatable); default: the row where the other is 0"
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
    server carries less than dedicated servers would (sharing loses). `perseus report RUN --export csv`
    of a frontier run writes frontier.csv in this shape."""
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
        f"dedicated peaks: λ_{a} = {result.peaks[a]:.2f} req/s, λ_{b} = {result.peaks[b]:.2f} req/s"
    )
    console.print(f"[bold]best measured saving: {result.max_saving:+.1%}[/bold]")
    if result.fit_max_saving is not None and result.fit_at is not None:
        console.print(
            f"quadratic fit: best saving {result.fit_max_saving:+.1%} at "
            f"{a} = {result.fit_at[0]:.2f}, {b} = {result.fit_at[1]:.2f} req/s"
        )
