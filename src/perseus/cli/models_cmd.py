"""`perseus models ...`: list, export and add models."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from perseus.cli.commands import App
from perseus.cli.common import console
from perseus.models import add_model, export_models, list_models

app = App(
    help="The model zoo: CNNs exported to ONNX (random weights), synthetic test models, your own ONNX files.",
    no_args_is_help=True,
)


@app.command("list")
def list_cmd() -> None:
    """List every model perseus can serve, and whether it is exported yet."""
    table = Table(title="perseus models")
    for column in ("name", "family", "input", "exported", "description"):
        table.add_column(column)
    for entry in list_models():
        table.add_row(
            entry.name,
            entry.family,
            "×".join(str(d) for d in entry.input_shape),
            "yes" if entry.exported else "no",
            entry.description,
        )
    console.print(table)


@app.command("export")
def export_cmd(
    names: Annotated[
        list[str], typer.Argument(metavar="MODEL", help="zoo names, e.g. resnet50 mobilenet_v2")
    ],
) -> None:
    """Export CNNs to ONNX with a dynamic batch dimension (cached; already exported ones are reused)."""
    for info in export_models(names, on_status=lambda text: console.print(f"[dim]· {text}[/dim]")):
        console.print(f"{info.name}: {info.path} ({info.params or 0:,} parameters)")


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="name to serve it under")],
    path: Annotated[Path, typer.Argument(metavar="FILE", help="an .onnx file", exists=True, dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="replace a model already added under NAME")] = False,
) -> None:
    """Bring your own ONNX model: validated with the onnx checker, its input signature read."""
    info = add_model(name, path, replace=force)
    inputs = ", ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in info.inputs)
    console.print(f"added {info.name}: {inputs}")
