"""The serving knobs shared by serve, bench and repo export (one value, as given on the command line) and
the TenantConfigs they make: the same knobs for every model, --pin giving each its own cpuset."""

from dataclasses import asdict, dataclass
from typing import Any

from perseus.config.loading import build
from perseus.config.serving import TenantConfig, parse_cpuset
from perseus.core.errors import ConfigError


@dataclass(frozen=True)
class Knobs:
    """The knob flags as typed; checked when tenants are built from them."""

    instances: int = 1
    max_batch_size: int = 8
    dynamic_batching: bool = False
    max_queue_delay_us: int = 0
    preferred_batch_sizes: str | None = None  # e.g. "4,8"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    pins: tuple[str, ...] = ()  # MODEL=CPUS entries

    def tenants(self, models: list[str]) -> tuple[TenantConfig, ...]:
        knobs = asdict(self)
        return tenants_from_flags(models, list(knobs.pop("pins")), **knobs)


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


def parse_ints(text: str | None, flag: str, what: str) -> tuple[int, ...]:
    """`4,8` → (4, 8); empty → (); anything else is one line: `{flag} must be {what}, got …`."""
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{flag} must be {what}, got {text!r}") from None


def parse_sizes(text: str | None) -> tuple[int, ...]:
    return parse_ints(text, "--preferred-batch-sizes", "integers like 4,8")


def tenants_from_flags(models: list[str], pins: list[str] | None, **knobs: Any) -> tuple[TenantConfig, ...]:
    """One TenantConfig per model with the same knobs; --pin gives each its own cpuset."""
    pinning = parse_pins(pins, models)
    knobs["preferred_batch_sizes"] = parse_sizes(knobs.get("preferred_batch_sizes"))
    return tuple(
        build(TenantConfig, f"--models {model}", model=model, cpus=pinning.get(model), **knobs)
        for model in models
    )
