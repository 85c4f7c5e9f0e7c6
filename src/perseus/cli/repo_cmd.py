"""`perseus repo export`: write a Triton model repository that a full Triton (GPU or CPU) loads as is."""

from pathlib import Path
from typing import Annotated, cast

import typer

from perseus.cli.commands import App
from perseus.cli.common import console, split_models
from perseus.cli.knobs import ConfigFile, server_from_file, with_knobs
from perseus.config import ServerConfig
from perseus.config.knobs import Knobs, parse_ints
from perseus.config.loading import build
from perseus.core.errors import ConfigError
from perseus.models import list_models, parse_spec, resolve_model
from perseus.serving.export_repo import FORMATS, ExportedModel, Format, Kind, Placement, export_repository
from perseus.serving.server import resolve_tenants

app = App(
    help="Model repositories for a Triton you run yourself (e.g. on a GPU machine).", no_args_is_help=True
)


def parse_gpus(text: str | None) -> tuple[int, ...]:
    return parse_ints(text, "--gpus", "GPU ids like 0,1")


def placement_for(fmt: str, kind: str | None, gpus: str | None) -> Placement:
    """--kind defaults to gpu for the onnxruntime format (users take it to a GPU Triton); the python
    format runs onnxruntime on the CPU, so only cpu makes sense there."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if kind not in (None, "gpu", "cpu"):
        raise ConfigError(f"--kind must be gpu or cpu, got {kind!r}")
    if fmt == "triton-python":
        if kind == "gpu" or gpus:
            raise ConfigError(
                "--format triton-python runs onnxruntime on the CPU; --kind gpu/--gpus do not apply"
            )
        return Placement()
    chosen = cast(Kind, kind or "gpu")
    if gpus and chosen != "gpu":
        raise ConfigError("--gpus needs --kind gpu")
    return Placement(kind=chosen, gpus=parse_gpus(gpus))


def check_names(specs: list[str]) -> None:
    """Fail on a mistyped model before any CNN is exported (resolving exports on first use, in order)."""
    known = {entry.name for entry in list_models()}
    for spec in specs:
        if parse_spec(spec).base not in known:
            resolve_model(spec)  # raises the zoo's own "unknown model ...; known: ..." line


def describe(model: ExportedModel) -> str:
    placement = model.placement
    count = f"{placement.triton_kind} x{model.instances}"
    if placement.kind == "gpu":
        where = "gpus " + ",".join(map(str, placement.gpus)) if placement.gpus else "every GPU"
        count += f" per GPU ({where})"
    return f"  {model.name}: {model.path}  {model.format}  {count}"


@app.command("export")
@with_knobs(pin=False)
def export(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="the model repository to write")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="triton-onnxruntime (Triton's native onnxruntime backend) or triton-python (the python "
            "backend running onnxruntime, as perseus's embedded server does; also carries synthetic-sleep)",
        ),
    ] = "triton-onnxruntime",
    models: Annotated[
        str | None,
        typer.Option(help="comma-separated models, e.g. resnet50,mobilenet_v2 or synthetic-cpu:dim=64"),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="instance kind for triton-onnxruntime: gpu or cpu", show_default="gpu"),
    ] = None,
    gpus: Annotated[
        str | None, typer.Option(help="with --kind gpu: GPU ids to place instances on, e.g. 0,1")
    ] = None,
    knobs: Knobs = Knobs(),  # the knob flags, declared by @with_knobs
    config: ConfigFile = None,
    force: Annotated[bool, typer.Option(help="replace DIR if it already holds a model repository")] = False,
) -> None:
    """Write a self-contained Triton model repository (ONNX files, config.pbtxt, README.txt) to DIR.

    Knob flags apply to every model; --config FILE.yaml sets them per model instead.
    Every config.pbtxt is checked against Triton's ModelConfig schema and its ONNX file before DIR is written.
    """
    placement = placement_for(fmt, kind, gpus)
    if config is not None:
        if models is not None:
            raise ConfigError("give either --models or --config, not both")
        server_config = server_from_file(config)
    elif models is None:
        raise ConfigError("--models (or --config FILE.yaml) is required, e.g. --models resnet50,mobilenet_v2")
    else:
        server_config = build(ServerConfig, "repo export", tenants=knobs.tenants(split_models(models)))
    check_names([tenant.model for tenant in server_config.tenants])
    status = lambda text: console.print(f"[dim]· {text}[/dim]")  # noqa: E731
    resolved = resolve_tenants(server_config, status)
    exported = export_repository(resolved, directory, cast(Format, fmt), placement, force=force)
    target = exported[0].path.parent
    console.print(
        f"exported {len(exported)} model{'s' if len(exported) > 1 else ''} to {target}", soft_wrap=True
    )
    for model in exported:
        console.print(describe(model), soft_wrap=True)
    console.print(
        f"serve with: tritonserver --model-repository={target}  (see {target / 'README.txt'})", soft_wrap=True
    )
