"""The terminal report of an experiment run: one rich table per measured section, warnings, provenance."""

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perseus.experiments.results import ExperimentResults
from perseus.report import fmt, kinds
from perseus.report.table import Cell, TableData, Tone

_STYLE: dict[Tone, str] = {"good": "green", "bad": "bold red", "warn": "yellow", "dim": "dim"}


def _markup(cell: Cell) -> str:
    text = escape(cell.text)
    return f"[{_STYLE[cell.tone]}]{text}[/]" if cell.tone is not None and text else text


def rich_table(data: TableData) -> Table:
    table = Table(title=escape(data.title), title_justify="left")
    for index, column in enumerate(data.columns):
        # Names read best left-aligned, numbers right-aligned.
        label = index < data.labels
        table.add_column(escape(column), justify="left" if label else "right", no_wrap=index == 0 and label)
    for index, row in enumerate(data.rows):
        table.add_row(*(_markup(c) for c in row), style="bold" if index in data.bold else None)
    return table


def render_results(results: ExperimentResults, console: Console) -> None:
    """Print what the run found: its tables, warnings in yellow, and where the numbers came from."""
    console.print(
        f"[bold]{escape(results.name)}[/bold] — {escape(results.kind)}, run {results.run_id} "
        f"({escape(results.status)}); {escape(fmt.sla_text(results))}"
    )
    line = kinds.headline(results)
    if line is not None:
        style = "bold red" if line.saving is not None and line.saving < 0 else "bold"
        console.print(f"[{style}]{escape(line.text)}.[/]")
    found = kinds.tables(results)
    if not found:
        console.print("[yellow]No results to show: the run stored no finished section.[/yellow]")
    for data in found:
        console.print(rich_table(data))
        for note in data.notes:
            console.print(_markup(note))
    for warning in kinds.warnings(results):
        console.print(f"[yellow]⚠ {escape(warning)}[/yellow]")
    console.print(f"[dim]{escape(fmt.trials_text(results))}; {escape(fmt.provenance_line(results))}.[/dim]")
