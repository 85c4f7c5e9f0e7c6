"""Run one trial of load: set up clients (in-process or N worker processes), start them together,
stop on the trial rules, and hand back every record with the generator's own CPU cost."""

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from perseus.core.errors import ConfigError
from perseus.loadgen.clients import InferClient, Protocol_, open_client
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules, should_stop, window_stats
from perseus.loadgen.schedule import Arrival, TenantRate, open_loop, split_trace
from perseus.loadgen.sender import send_closed, send_open

Mode = Literal["closed", "open", "trace"]
Tick = Callable[[float], None]
CONTROL_PERIOD_S = 0.2
START_MARGIN_NS = 50_000_000  # workers get this long between "go" and the first intended send


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


async def drive(
    spec: LoadSpec,
    warmup_s: float,
    worker: int,
    start_ns: int,
    stop_ns: int,
    stopped: Callable[[], bool],
    sink: Callable[[RequestRecord], None],
    client: InferClient,
) -> None:
    """Send this worker's share of the load from start_ns until stop_ns or stopped()."""
    if spec.mode == "closed":
        delay = (start_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        users = users_of(spec, worker)
        # Spread user starts over a quarter of the warm-up (at most 0.25 s), all inside the warm-up.
        stagger_ns = round(min(warmup_s / 4, 0.25) * 1e9 / spec.concurrency)
        await send_closed(
            client, len(users), spec.tenants, spec.batch, stop_ns, stopped, sink, users.start, stagger_ns
        )
    else:
        await send_open(client, spec.arrivals(worker), start_ns, stop_ns, stopped, sink, spec.max_in_flight)


def deadline_ns(start_ns: int, rules: TrialRules) -> int:
    """The last moment a trial started at start_ns may send: after warm-up and the longest measurement."""
    return start_ns + round((rules.warmup_s + rules.max_duration_s) * 1e9)


async def connect(spec: LoadSpec, worker: int) -> InferClient:
    """The checked, prepared client one sending worker uses (each worker seeds its inputs apart)."""
    return await open_client(
        spec.url,
        spec.protocol,
        spec.needs(),
        timeout_s=spec.request_timeout_s,
        seed=spec.seed + worker,
        max_connections=spec.max_in_flight or 1024,
    )


class Controller:
    """Applies the trial rules while load runs: sizes the windows after warm-up, decides when to stop."""

    def __init__(self, rules: TrialRules, start_ns: int, open_loop: bool = False) -> None:
        self.rules, self.start_ns, self.open_loop = rules, start_ns, open_loop
        self.window_start_ns = start_ns + round(rules.warmup_s * 1e9)
        self.window_s = rules.window_s
        self._sized = rules.min_window_requests <= 0

    def progress(self, now_ns: int) -> float:
        return min(1.0, (now_ns - self.start_ns) / 1e9 / (self.rules.warmup_s + self.rules.max_duration_s))

    def check(self, records: list[RequestRecord], now_ns: int) -> int | None:
        """The end of the measured window once the rules say stop, else None."""
        measured_s = (now_ns - self.window_start_ns) / 1e9
        if measured_s <= 0:
            return None
        if not self._sized:
            warmup_s = max(self.rules.warmup_s, 1e-3)
            done = sum(1 for r in records if r.ok and self.start_ns <= r.done_ns < self.window_start_ns)
            self.window_s = self.rules.effective_window_s(done / warmup_s if done else 0.0)
            self._sized = True
        stats = window_stats(records, self.window_start_ns, self.window_s, now_ns)
        if not should_stop(measured_s, stats, self.rules, self.open_loop):
            return None
        # End on a whole number of windows so every window has equal weight.
        # Whole windows of the same integer width window_stats uses, so both count the same windows.
        width_ns = round(self.window_s * 1e9)
        measured_ns = min(now_ns - self.window_start_ns, round(self.rules.max_duration_s * 1e9))
        return self.window_start_ns + max(1, measured_ns // width_ns) * width_ns

    def records(
        self, spec: "LoadSpec", records: list[RequestRecord], end_ns: int, cpu_ns: int
    ) -> TrialRecords:
        return TrialRecords(
            self.start_ns,
            self.window_start_ns,
            end_ns,
            records,
            cpu_ns,
            _total(spec.offered_rps()),
            spec.workers,
            self.window_s,
        )


async def _in_process(spec: LoadSpec, rules: TrialRules, on_tick: Tick | None) -> TrialRecords:
    client = await connect(spec, 0)
    try:
        cpu_start = time.process_time_ns()
        control = Controller(rules, time.monotonic_ns() + 1_000_000, spec.mode == "open")
        records: list[RequestRecord] = []
        stop_flag = [False]
        sender = asyncio.create_task(
            drive(
                spec,
                rules.warmup_s,
                0,
                control.start_ns,
                deadline_ns(control.start_ns, rules),
                lambda: stop_flag[0],
                records.append,
                client,
            )
        )
        end_ns = None
        while end_ns is None:
            await asyncio.wait([sender], timeout=CONTROL_PERIOD_S)
            now = time.monotonic_ns()
            if on_tick:
                on_tick(control.progress(now))
            end_ns = control.check(records, now)
            if end_ns is None and sender.done():
                end_ns = control.window_start_ns + round(rules.max_duration_s * 1e9)
        stop_flag[0] = True
        await sender
        cpu_ns = time.process_time_ns() - cpu_start
    finally:
        await client.close()
    return control.records(spec, records, end_ns, cpu_ns)


def _total(offered: dict[str, float] | None) -> float | None:
    return sum(offered.values()) if offered else None


def run_load(spec: LoadSpec, rules: TrialRules, on_tick: Tick | None = None) -> TrialRecords:
    """Blocking: run one trial and return its records (uvloop when available)."""
    if spec.workers > 1:
        from perseus.loadgen.workers import run_workers

        return run_workers(spec, rules, on_tick)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_in_process(spec, rules, on_tick))
    return uvloop.run(_in_process(spec, rules, on_tick))
