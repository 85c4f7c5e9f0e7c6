"""`perseus runs`: what the results store holds."""

from rich.table import Table

from perseus.cli.commands import App
from perseus.cli.common import DbOption, console, open_store

app = App(help="Stored runs.", no_args_is_help=True)


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """List stored runs with their status and trial count."""
    with open_store(db) as store:
        table = Table(title=f"runs in {store.path}")
        for column in ("id", "kind", "status", "started (UTC)", "trials", "git sha"):
            table.add_column(column)
        for run in store.runs():
            table.add_row(
                str(run.id),
                run.kind,
                run.status,
                run.started_at,
                str(len(store.trials(run.id))),
                str(run.provenance.get("git_sha") or "")[:12],
            )
        console.print(table)
