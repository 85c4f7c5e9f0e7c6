"""What load to offer (LoadSpec: closed loop, open loop or trace replay) and how it splits over sending
workers."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from perseus.config.inputs import NORMAL
from perseus.core.errors import ConfigError
from perseus.loadgen.client_base import Protocol_
from perseus.loadgen.schedule import Arrival, TenantRate, open_loop, split_trace

Mode = Literal["closed", "open", "trace"]


@dataclass(frozen=True)
class LoadSpec:
    """What load to offer. Closed: `concurrency` users cycling through `tenants` (equal request share).
    Open: one arrival process per entry of `rates`. Trace: replay `trace` (offsets from the start)."""

    url: str
    tenants: tuple[str, ...]
    mode: Mode = "closed"
    concurrency: int = 1
    rates: tuple[TenantRate, ...] = ()
    trace: tuple[Arrival, ...] = field(default=(), repr=False)
    batch: int = 1
    protocol: Protocol_ = "grpc"
    workers: int = 1
    max_in_flight: int | None = None  # open loop: cap per worker; held-back sends are counted late
    request_timeout_s: float = 60.0
    seed: int = 0
    inputs: str = NORMAL  # the input values sent (config.inputs): normal, zeros, random or file:PATH
    on_ray: bool = False  # the workers are Ray actors spread over the connected cluster's nodes

    def __post_init__(self) -> None:
        if self.mode == "closed" and (not self.tenants or self.concurrency < 1):
            raise ConfigError("a closed loop needs at least one model and concurrency ≥ 1")
        if self.mode == "open" and not self.rates:
            raise ConfigError("an open loop needs a rate per model")
        if self.mode == "trace" and not self.trace:
            raise ConfigError("trace replay needs a non-empty trace")
        if self.workers < 1 or (self.mode == "closed" and self.workers > self.concurrency):
            raise ConfigError(f"workers must be between 1 and the concurrency, got {self.workers}")
        if self.batch < 1 or (self.max_in_flight is not None and self.max_in_flight < 1):
            raise ConfigError("batch and max in-flight must be ≥ 1")

    def needs(self) -> set[tuple[str, int]]:
        if self.mode == "open":
            return {(r.tenant, r.batch) for r in self.rates}
        if self.mode == "trace":
            return {(a.tenant, a.batch) for a in self.trace}
        return {(t, self.batch) for t in self.tenants}

    def offered_rps(self) -> dict[str, float] | None:
        if self.mode != "open":
            return None
        offered: dict[str, float] = {}
        for rate in self.rates:
            offered[rate.tenant] = offered.get(rate.tenant, 0.0) + rate.rate_rps
        return offered

    def arrivals(self, worker: int) -> Iterator[Arrival]:
        if self.mode == "trace":
            return iter(split_trace(self.trace, worker, self.workers))
        return open_loop(self.rates, seed=self.seed, worker=worker, workers=self.workers)


def users_of(spec: LoadSpec, worker: int) -> range:
    """The closed-loop virtual users (by index) that one worker runs."""
    base, extra = divmod(spec.concurrency, spec.workers)
    first = worker * base + min(worker, extra)
    return range(first, first + base + (1 if worker < extra else 0))
