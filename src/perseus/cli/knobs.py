"""Serving-knob flags declared once for the commands that build tenants (serve, bench, repo export):
`with_knobs` puts them into a command's signature and hands the command one Knobs value."""

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

from perseus.config import ServerConfig
from perseus.config.knobs import Knobs
from perseus.config.loading import load_yaml

Instances = Annotated[int, typer.Option(min=1, max=64, help="Triton instances (stub processes) per model")]
MaxBatch = Annotated[int, typer.Option(min=1, max=1024, help="max_batch_size of each model")]
DynamicBatching = Annotated[
    bool, typer.Option(help="Triton's dynamic batcher: merge queued requests into one execution")
]
QueueDelay = Annotated[
    int, typer.Option(min=0, help="dynamic batching: longest wait to fill a batch, in µs (paper: 10000)")
]
Preferred = Annotated[
    str | None, typer.Option(help="dynamic batching: preferred batch sizes, e.g. 4,8 (the paper's)")
]
IntraOp = Annotated[
    int,
    typer.Option(
        min=0, help="onnxruntime intra-op threads per instance (0: its default, or the pinned core count)"
    ),
]
InterOp = Annotated[
    int, typer.Option(min=0, help="onnxruntime inter-op threads per instance (0: its default)")
]
Pin = Annotated[
    list[str] | None,
    typer.Option(help="core pinning, repeatable: MODEL=CPUS, e.g. --pin resnet50=0 --pin mobilenet_v2=1"),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        dir_okay=False,
        help="YAML with per-model settings: {tenants: [{model: resnet50, instances: 2, cpus: '0-1'}, ...]}",
    ),
]

_DEFAULTS = Knobs()
# Each flag, its typer annotation and default, in the order --help lists them.
_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("instances", Instances, _DEFAULTS.instances),
    ("max_batch_size", MaxBatch, _DEFAULTS.max_batch_size),
    ("dynamic_batching", DynamicBatching, _DEFAULTS.dynamic_batching),
    ("max_queue_delay_us", QueueDelay, _DEFAULTS.max_queue_delay_us),
    ("preferred_batch_sizes", Preferred, _DEFAULTS.preferred_batch_sizes),
    ("intra_op_threads", IntraOp, _DEFAULTS.intra_op_threads),
    ("inter_op_threads", InterOp, _DEFAULTS.inter_op_threads),
    ("pin", Pin, None),
)

Command = TypeVar("Command", bound=Callable[..., Any])


def with_knobs(*, pin: bool = True) -> Callable[[Command], Command]:
    """Replace the command's `knobs: Knobs` parameter by the knob flags, at its place (typer makes one
    flag per parameter of the signature it reads), and call the command with them as one Knobs value.
    Without `pin` there is no --pin flag (and no pins)."""
    flags = [(name, kind, default) for name, kind, default in _FLAGS if pin or name != "pin"]

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command)
        if "knobs" not in signature.parameters:
            raise TypeError(f"{command.__name__} has no `knobs` parameter to put the knob flags in")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == "knobs":
                parameters += [
                    inspect.Parameter(name, parameter.kind, default=default, annotation=kind)
                    for name, kind, default in flags
                ]
            else:
                parameters.append(parameter)

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name, _, _ in flags}
            pins = tuple(values.pop("pin", None) or ())
            return command(*args, knobs=Knobs(**values, pins=pins), **kwargs)

        # typer reads this signature (inspect prefers __signature__ to following __wrapped__).
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        run.__annotations__["return"] = signature.return_annotation
        return cast(Command, run)

    return decorate


def server_from_file(path: Path, **overrides: Any) -> ServerConfig:
    """A ServerConfig from YAML; command-line ports and host override the file's."""
    return load_yaml(path, ServerConfig, **overrides)
