"""Serving-knob flags shared by the commands that build tenants (serve, bench --backend, repo export)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from perseus.config import ServerConfig, TenantConfig
from perseus.config.loading import build, load_yaml
from perseus.config.serving import parse_cpuset
from perseus.core.errors import ConfigError

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
    int, typer.Option(min=0, help="onnxruntime intra-op threads per instance; 0 = default (pinned: #cpus)")
]
InterOp = Annotated[int, typer.Option(min=0, help="onnxruntime inter-op threads per instance; 0 = default")]
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


def parse_pins(pins: list[str] | None, models: list[str]) -> dict[str, tuple[int, ...]]:
    """`MODEL=CPUS` entries → cpusets by model; every MODEL must be one of the served models."""
    found: dict[str, tuple[int, ...]] = {}
    for entry in pins or []:
        name, sep, cpus = entry.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--pin {entry!r} must be MODEL=CPUS, e.g. resnet50=0-1")
        if name.strip() not in models:
            raise ConfigError(f"--pin {entry!r}: {name.strip()!r} is not one of --models {','.join(models)}")
        try:
            found[name.strip()] = parse_cpuset(cpus)
        except ValueError as exc:
            raise ConfigError(f"--pin {entry!r}: {exc}") from None
    return found


def parse_sizes(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--preferred-batch-sizes must be integers like 4,8, got {text!r}") from None


def tenants_from_flags(models: list[str], pins: list[str] | None, **knobs: Any) -> tuple[TenantConfig, ...]:
    """One TenantConfig per model with the same knobs; --pin gives each its own cpuset."""
    pinning = parse_pins(pins, models)
    knobs["preferred_batch_sizes"] = parse_sizes(knobs.get("preferred_batch_sizes"))
    return tuple(
        build(TenantConfig, f"--models {model}", model=model, cpus=pinning.get(model), **knobs)
        for model in models
    )


def server_from_file(path: Path, **overrides: Any) -> ServerConfig:
    """A ServerConfig from YAML; command-line ports and host override the file's."""
    return load_yaml(path, ServerConfig, **overrides)
