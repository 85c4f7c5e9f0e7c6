"""`perseus runs`: what the results store holds."""

from perseus.cli.commands import App
from perseus.cli.common import DbOption, console, open_store

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
