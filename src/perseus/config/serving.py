"""What to serve: tenants (one Triton model each) with their isolation knobs, and the server's addresses."""

import re
from collections.abc import Sequence
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

LOOPBACK = "127.0.0.1"


def parse_cpuset(text: str) -> tuple[int, ...]:
    """`0-3,6` → (0, 1, 2, 3, 6), the Linux cpuset list syntax (as in Cpus_allowed_list)."""
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, sep, last = part.partition("-")
        try:
            low, high = int(first), int(last) if sep else int(first)
        except ValueError:
            raise ValueError(f"cpuset {text!r}: {part!r} is not a CPU number or range like 0-3") from None
        if low < 0 or high < low:
            raise ValueError(f"cpuset {text!r}: bad range {part!r}")
        cpus.update(range(low, high + 1))
    if not cpus:
        raise ValueError(f"cpuset {text!r} names no CPU")
    return tuple(sorted(cpus))


def format_cpuset(cpus: tuple[int, ...] | list[int]) -> str:
    """(0, 1, 2, 5) → `0-2,5`, the form the kernel prints."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = prev = None
    for cpu in [*ordered, None]:
        if cpu is not None and prev is not None and cpu == prev + 1:
            prev = cpu
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = cpu
    return ",".join(parts)


def tenant_names(models: list[str], given: Sequence[str | None] = ()) -> list[str]:
    """Triton model names: the name given (`given`, by position), else the base model name; repeated
    models get -2, -3 ... suffixes (never a name given to another)."""
    fixed = list(given) + [None] * (len(models) - len(given))
    taken = {n for n in fixed if n}
    names: list[str] = []
    for spec, name_given in zip(models, fixed, strict=True):
        if name_given:
            names.append(name_given)
            continue
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.split(":", 1)[0])
        name, copy = base, 1
        while name in names or name in taken:
            copy += 1
            name = f"{base}-{copy}"
        names.append(name)
    return names


def served_names(tenants: Sequence["TenantConfig"]) -> list[str]:
    """Each tenant's name on a server and in results: its `name`, else its model's (see tenant_names)."""
    return tenant_names([t.model for t in tenants], [t.name for t in tenants])


class TenantConfig(BaseModel):
    """One tenant = one model in the server, with its isolation knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        description="zoo/synthetic/BYO model spec, e.g. resnet50 or synthetic-sleep:service_ms=20"
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        max_length=64,
        description="the model's name on every server, in results, tables, profiles and plans (default: its "
        "spec's base name, -2, -3 for a repeated one); plans and `profile.sets` take it or the spec",
    )
    instances: int = Field(default=1, ge=1, le=64, description="Triton instance_group count (stub processes)")
    max_batch_size: int = Field(default=8, ge=1, le=1024, description="Triton's max_batch_size of the model")
    dynamic_batching: bool = Field(default=False, description="Triton's dynamic batcher for this model")
    max_queue_delay_us: int = Field(
        default=0, ge=0, le=10_000_000, description="dynamic batching: longest wait to fill a batch (µs)"
    )
    preferred_batch_sizes: tuple[int, ...] = Field(
        default=(), description="dynamic batching: batch sizes the batcher aims for (paper: 4, 8)"
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="onnxruntime intra-op threads; 0 = onnxruntime's default, or the pinned core count",
    )
    inter_op_threads: int = Field(default=0, ge=0, le=256, description="onnxruntime inter-op threads")
    allow_spinning: bool = Field(
        default=False,
        description="onnxruntime worker spin-waiting; off by default because spinning threads of co-located "
        "tenants steal each other's cores",
    )
    cpus: tuple[int, ...] | None = Field(
        default=None,
        description="core pinning: the CPUs this tenant's stub processes may run on (e.g. '0-1' or [0, 1])",
    )

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpuset_text(cls, value: object) -> object:
        return parse_cpuset(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.preferred_batch_sizes and not self.dynamic_batching:
            raise ValueError("preferred_batch_sizes needs dynamic_batching: true")
        if any(not 1 <= size <= self.max_batch_size for size in self.preferred_batch_sizes):
            raise ValueError(f"preferred_batch_sizes must lie in 1..max_batch_size ({self.max_batch_size})")
        if self.cpus is not None and (not self.cpus or min(self.cpus) < 0):
            raise ValueError("cpus must name at least one CPU, each ≥ 0")
        return self

    @model_serializer(mode="wrap")
    def _without_unset_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`name` is left out when not given: a run stored before names existed has the same spec."""
        data: dict[str, Any] = handler(self)
        if data.get("name") is None:
            data.pop("name", None)
        return data

    def effective_intra_op_threads(self) -> int:
        """Pinned to k cores with no explicit setting: k threads (onnxruntime's default counts all cores)."""
        if self.intra_op_threads == 0 and self.cpus is not None:
            return len(self.cpus)
        return self.intra_op_threads


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: tuple[TenantConfig, ...] = Field(
        min_length=1, description="the models to serve, with their knobs"
    )
    host: str = Field(default=LOOPBACK, description="address the server binds")
    http_port: int | None = Field(
        default=None, ge=1, le=65535, description="KServe-v2 HTTP; default: a free port"
    )
    grpc_port: int | None = Field(
        default=None, ge=1, le=65535, description="KServe-v2 gRPC; default: a free port"
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Triton's /metrics; default: a free port"
    )
    ready_timeout_s: float = Field(
        default=180.0, gt=0, description="seconds to wait for the server to be ready"
    )
