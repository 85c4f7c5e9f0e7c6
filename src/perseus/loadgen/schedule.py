"""When to send: pure, seeded arrival schedules (constant, Poisson, trace, per-tenant mixes); each draws
from the seed a trial derives from what names it (core.seeds).

A schedule knows nothing about sending. It yields Arrival(t_ns, tenant, batch) in time order,
t_ns counted from the trial's start; the sender turns them into requests.
"""

import csv
import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from perseus.core.errors import ConfigError

ArrivalKind = Literal["constant", "poisson"]
_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Arrival:
    t_ns: int  # intended send time, from the trial start
    tenant: str
    batch: int = 1


@dataclass(frozen=True)
class TenantRate:
    tenant: str
    rate_rps: float
    arrival: ArrivalKind = "poisson"
    batch: int = 1

    def __post_init__(self) -> None:
        if not self.rate_rps > 0 or not math.isfinite(self.rate_rps):
            raise ConfigError(
                f"rate for {self.tenant!r} must be a positive number of req/s, got {self.rate_rps}"
            )
        if self.batch < 1:
            raise ConfigError(f"batch for {self.tenant!r} must be ≥ 1")


def _one_tenant(spec: TenantRate, seed: Sequence[int], phase: float) -> Iterator[Arrival]:
    """Endless arrivals of one tenant: evenly spaced, or Poisson (exponential gaps, mean 1/rate)."""
    period_ns = 1e9 / spec.rate_rps
    if spec.arrival == "constant":
        k = 0
        while True:
            yield Arrival(int((k + phase) * period_ns), spec.tenant, spec.batch)
            k += 1
    rng = np.random.default_rng(list(seed))
    t = 0.0
    while True:
        times = t + np.cumsum(rng.exponential(period_ns, _CHUNK))
        for value in times:
            yield Arrival(int(value), spec.tenant, spec.batch)
        t = float(times[-1])


def open_loop(
    rates: Sequence[TenantRate], seed: int = 0, worker: int = 0, workers: int = 1
) -> Iterator[Arrival]:
    """Merged arrivals of every tenant, each its own process.

    With several workers, each runs the same process thinned to rate/workers with its own seed
    (a superposition of independent Poisson processes is Poisson at the summed rate; constant streams
    are phase-shifted so together they are evenly spaced).
    """
    if not rates:
        raise ConfigError("an open-loop schedule needs at least one tenant rate")
    if not 0 <= worker < workers:
        raise ConfigError(f"worker {worker} of {workers}")
    streams = []
    for index, spec in enumerate(rates):
        share = TenantRate(spec.tenant, spec.rate_rps / workers, spec.arrival, spec.batch)
        streams.append(_one_tenant(share, seed=(seed, index, worker), phase=worker / workers))
    return heapq.merge(*streams, key=lambda a: a.t_ns)


def read_trace(path: Path) -> list[Arrival]:
    """A trace CSV: `t_offset_s,model[,batch]` rows (header optional), any order; returned sorted."""
    arrivals: list[Arrival] = []
    try:
        with path.open(newline="") as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                if not row or row[0].strip().startswith("#"):
                    continue
                if line_no == 1 and row[0].strip() == "t_offset_s":
                    continue
                if len(row) not in (2, 3):
                    raise ConfigError(
                        f"{path}:{line_no}: expected t_offset_s,model[,batch], got {len(row)} fields"
                    )
                try:
                    offset_s = float(row[0])
                    batch = int(row[2]) if len(row) == 3 else 1
                except ValueError:
                    raise ConfigError(f"{path}:{line_no}: not a number in {row!r}") from None
                if offset_s < 0 or not math.isfinite(offset_s) or batch < 1:
                    raise ConfigError(f"{path}:{line_no}: offsets must be ≥ 0 and batch ≥ 1")
                arrivals.append(Arrival(round(offset_s * 1e9), row[1].strip(), batch))
    except OSError as exc:
        raise ConfigError(f"cannot read trace {path}: {exc.strerror}") from None
    if not arrivals:
        raise ConfigError(f"trace {path} has no requests")
    arrivals.sort(key=lambda a: a.t_ns)
    return arrivals


def split_trace(arrivals: Sequence[Arrival], worker: int, workers: int) -> list[Arrival]:
    """Round-robin share of a trace for one of several sending workers."""
    return list(arrivals[worker::workers])
