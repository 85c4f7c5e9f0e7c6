"""What one sender runs, in this process or in a worker process: its connected client, its share of the
load, and the Controller that applies the trial rules while load runs."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from perseus.loadgen.client_base import InferClient
from perseus.loadgen.clients import open_client
from perseus.loadgen.early_stop import Lost, SlaWatch
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules, should_stop, stats_percentile, window_stats
from perseus.loadgen.sender import send_closed, send_open
from perseus.loadgen.spec import LoadSpec, users_of

Tick = Callable[[float], None]
CONTROL_PERIOD_S = 0.2


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
        inputs=spec.inputs,
    )


class Controller:
    """Applies the trial rules while load runs: sizes the windows after warm-up, decides when to stop."""

    def __init__(
        self, rules: TrialRules, start_ns: int, open_loop: bool = False, watch: SlaWatch | None = None
    ) -> None:
        self.rules, self.start_ns, self.open_loop = rules, start_ns, open_loop
        self.window_start_ns = start_ns + round(rules.warmup_s * 1e9)
        self.window_s = rules.window_s
        self._sized = rules.min_window_requests <= 0
        self.watch = watch  # stops it early once an SLA is certainly lost (loadgen.early_stop)
        self.lost: Lost | None = None

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
        stats = window_stats(
            records, self.window_start_ns, self.window_s, now_ns, stats_percentile(self.rules)
        )
        # The trial ends on a whole number of windows so every window has equal weight (of the same integer
        # width window_stats uses, so both count the same windows). What the rules ask of the measured
        # window — its least duration, each tenant's latencies — is asked of that window, not of what
        # has been sent by now: a window of 3 s cuts up to 3 s of a rare tenant's requests, which left a
        # co-located ResNet-50 with 73 of the 100 latencies its p95 needs, the probe refused for it.
        width_ns = round(self.window_s * 1e9)
        measured_ns = min(now_ns - self.window_start_ns, round(self.rules.max_duration_s * 1e9))
        end_ns = self.window_start_ns + max(1, measured_ns // width_ns) * width_ns
        whole_s = (end_ns - self.window_start_ns) / 1e9
        stop = should_stop(measured_s, stats, self.rules, self.open_loop) and (
            measured_s >= self.rules.max_duration_s
            or (whole_s >= self.rules.min_duration_s and self._enough_each(records, end_ns))
        )
        return end_ns if stop else self._sla_lost(records, now_ns)

    def _sla_lost(self, records: list[RequestRecord], now_ns: int) -> int | None:
        """The end of the measured window when an SLA is certainly lost already, else None."""
        if self.watch is None:
            return None
        self.lost = self.watch.check(records, self.start_ns, round(self.window_s * 1e9), now_ns)
        return self.lost.end_ns if self.lost is not None else None

    def _enough_each(self, records: list[RequestRecord], end_ns: int) -> bool:
        """Every tenant has completed min_tenant_requests intended inside the measured window (ending at
        end_ns)."""
        need = self.rules.min_tenant_requests
        if need <= 0:
            return True
        start = self.window_start_ns
        counts = Counter(r.tenant for r in records if r.ok and start <= r.intended_ns < end_ns)
        tenants = {r.tenant for r in records}
        return all(counts[t] >= need for t in tenants)

    def records(self, spec: LoadSpec, records: list[RequestRecord], end_ns: int, cpu_ns: int) -> TrialRecords:
        return TrialRecords(
            self.start_ns,
            self.window_start_ns,
            end_ns,
            records,
            cpu_ns,
            _total(spec.offered_rps()),
            spec.workers,
            self.window_s,
            spec.mode != "closed",
            stopped=self.lost.figures() if self.lost is not None else None,
        )


def _total(offered: dict[str, float] | None) -> float | None:
    return sum(offered.values()) if offered else None
