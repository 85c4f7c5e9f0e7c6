"""`perseus runs`: what the results store holds."""

from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.commands import App
from perseus.cli.common import DbOption, console, open_store
from perseus.store.merge import import_store

app = App(help="Stored runs: what was measured, and how it came out.", no_args_is_help=True)


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """List stored runs: name, kind, models, verdict (VALID/INVALID for a bench run, done or partial for an
    experiment) and trial count. `perseus report ID` shows one."""
    # Imported here: the report layer loads matplotlib (~0.3 s), which no other command needs.
    from perseus.report.runs import run_line, runs_table
    from perseus.report.tables import print_table

    with open_store(db) as store:
        lines = [run_line(run, store.trials(run.id)) for run in store.runs()]
    if not lines:
        console.print(f"no runs in {store.path} yet: perseus run FILE.yaml, perseus bench or perseus demo")
        return
    print_table(runs_table(lines, str(store.path), console.width), console)


@app.command("import")
def import_cmd(
    other: Annotated[
        Path, typer.Argument(metavar="OTHER", dir_okay=False, help="a results store (SQLite) made elsewhere")
    ],
    db: DbOption = None,
) -> None:
    """Copy the runs of another results store into this one (new ids; a run already here is skipped), e.g.
    profiles measured on other machine types, so one plan can use them all. OTHER is not changed."""
    with open_store(db) as store:
        found = import_store(store, other)
    if found.copied:
        pairs = ", ".join(f"{old} → {new}" for old, new in found.copied.items())
        console.print(
            f"imported {len(found.copied)} run(s) from {other} (there → here: {pairs})", soft_wrap=True
        )
    if found.already:
        console.print(
            f"{len(found.already)} run(s) already here, not copied: {', '.join(map(str, found.already))}"
        )
    if not found.copied and not found.already:
        console.print(f"{other} holds no runs")
