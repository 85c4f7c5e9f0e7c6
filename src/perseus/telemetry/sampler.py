"""The Sampler: a background thread recording per-tenant CPU/RSS, host CPU, Triton counters and GPUs."""

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Protocol, Self

from perseus.core.errors import one_line
from perseus.core.records import Sample
from perseus.telemetry.gpu import GpuReading, NvmlGpus
from perseus.telemetry.processes import (
    CpuLedger,
    HostTimes,
    ProcessTable,
    PsutilTable,
    host_cpu_percent,
    read_tenants,
)
from perseus.telemetry.triton_metrics import TritonMetrics, counters_as_dict, scrape

DEFAULT_INTERVAL_S = 1.0  # the paper's Prometheus scrape interval
SCRAPE_TIMEOUT_S = 2.0
_NOTICE_CHARS = 300


class GpuSource(Protocol):
    def open(self) -> str | None: ...
    def read(self) -> list[GpuReading]: ...
    def close(self) -> None: ...


Scrape = Callable[[str, float], TritonMetrics]
TenantPids = Callable[[], Mapping[str, Sequence[int]]]


class Sampler:
    """Samples every interval_s while its `with` block runs, plus once at the start and once at the end
    (so even a short trial has two points to difference).

    tenant_pids is asked again at every sample because stub processes can be restarted. A failing
    source (a scrape that times out, a process that vanished) becomes a notice; the thread carries on.
    """

    def __init__(
        self,
        tenant_pids: TenantPids,
        metrics_url: str | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], int] = time.monotonic_ns,
        *,
        processes: ProcessTable | None = None,
        scrape_metrics: Scrape = scrape,
        gpus: GpuSource | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"sampling interval must be > 0 s, got {interval_s}")
        self.tenant_pids, self.metrics_url, self.interval_s = tenant_pids, metrics_url, interval_s
        self._clock = clock
        self._table: ProcessTable = processes or PsutilTable()
        self._scrape = scrape_metrics
        self._gpus: GpuSource = gpus or NvmlGpus()
        self._gpus_open = False
        self._samples: list[Sample] = []
        self._notices: list[str] = []
        self._ledger = CpuLedger()
        self._previous: tuple[int, dict[str, float], HostTimes] | None = None  # t_ns, used cpu_s, host
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.first_metrics: TritonMetrics | None = None
        self.last_metrics: TritonMetrics | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this Sampler was already started")
        reason = self._gpus.open()
        self._gpus_open = reason is None
        if reason is not None:
            self._notice(f"GPU telemetry skipped: {reason}")
        self.sample_now()
        self._thread = threading.Thread(target=self._run, name="perseus-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and take the closing sample; calling it again does nothing."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        try:
            self.sample_now()
        finally:
            if self._gpus_open:
                self._gpus.close()
                self._gpus_open = False

    def _run(self) -> None:
        # Scheduled on the real monotonic clock (the injected clock only stamps samples, and may be a fake).
        deadline = time.monotonic()
        while True:
            deadline += self.interval_s
            if self._stop.wait(max(0.0, deadline - time.monotonic())):
                return
            self.sample_now()
            now = time.monotonic()
            if now > deadline + self.interval_s:  # fell behind (a slow scrape): skip, do not burst
                deadline = now

    # -- results -----------------------------------------------------------------------------------------

    @property
    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    @property
    def notices(self) -> list[str]:
        with self._lock:
            return list(self._notices)

    def cpu_seconds(self, tenant: str) -> float:
        """CPU seconds (user + system) the tenant's processes used between the first and the last sample."""
        with self._lock:
            return self._ledger.used_s(tenant)

    def vanished(self) -> dict[str, list[int]]:
        """Per tenant, the pids seen at the first sample that no longer run (a stub killed mid-trial)."""
        with self._lock:
            gone = {
                tenant: [pid for pid in pids if self._table.read(pid) is None]
                for tenant, pids in self._ledger.initial_pids().items()
            }
        return {tenant: pids for tenant, pids in gone.items() if pids}

    # -- sampling ----------------------------------------------------------------------------------------

    def sample_now(self) -> None:
        """Take one sample of every source now; never raises (a failing source becomes a notice)."""
        sources = {"processes": self._sample_processes, "Triton metrics": self._sample_metrics}
        if self._gpus_open:
            sources["GPU"] = self._sample_gpus
        with self._lock:
            for name, take in sources.items():
                try:
                    take()
                except Exception as exc:
                    self._notice(f"{name}: {type(exc).__name__}: {exc}")

    def _notice(self, text: str) -> None:
        line = one_line(text, _NOTICE_CHARS)
        if line not in self._notices:  # a scrape failing every second is one notice, not hundreds
            self._notices.append(line)

    def _add(self, t_ns: int, source: str, tenant: str | None, metric: str, value: float) -> None:
        self._samples.append(Sample(t_ns, source, tenant, metric, float(value)))

    def _sample_processes(self) -> None:
        pids = self.tenant_pids()
        t_ns = self._clock()
        usage = read_tenants(self._table, pids)
        host = self._table.host_times()
        self._ledger.update(usage)
        used_s = {tenant: self._ledger.used_s(tenant) for tenant in usage}
        previous = self._previous
        for tenant, tenant_usage in usage.items():
            self._add(t_ns, "process", tenant, "cpu_s", used_s[tenant])
            self._add(t_ns, "process", tenant, "rss_bytes", tenant_usage.rss_bytes)
            self._add(t_ns, "process", tenant, "processes", len(tenant_usage.processes))
            for pid in tenant_usage.gone:
                self._notice(f"{tenant}: process {pid} is gone")
            if previous is not None and t_ns > previous[0] and tenant in previous[1]:
                cpu_s, wall_s = used_s[tenant] - previous[1][tenant], (t_ns - previous[0]) / 1e9
                self._add(t_ns, "process", tenant, "cpu_percent", 100.0 * cpu_s / wall_s)
        if previous is not None:
            host_percent = host_cpu_percent(previous[2], host)
            if host_percent is not None:
                self._add(t_ns, "host", None, "cpu_percent", host_percent)
        self._previous = (t_ns, used_s, host)

    def _sample_metrics(self) -> None:
        if self.metrics_url is None:
            return
        before_ns = self._clock()
        metrics = self._scrape(self.metrics_url, SCRAPE_TIMEOUT_S)
        # Stamped on our clock (which may be a fake): Triton read its counters between send and reply.
        t_ns = (before_ns + self._clock()) // 2
        metrics = replace(metrics, t_ns=t_ns)
        if self.first_metrics is None:
            self.first_metrics = metrics
        self.last_metrics = metrics
        for model, counters in metrics.models.items():
            for metric, value in counters_as_dict(counters).items():
                self._add(t_ns, "triton", model, metric, value)
        for metric in ("cpu_utilization", "cpu_memory_used_bytes", "cpu_memory_total_bytes"):
            value = getattr(metrics, metric)
            if value is not None:
                self._add(t_ns, "triton", None, metric, value)

    def _sample_gpus(self) -> None:
        t_ns = self._clock()
        for gpu in self._gpus.read():
            source = f"gpu:{gpu.index}"
            self._add(t_ns, source, None, "utilization_percent", gpu.utilization_percent)
            self._add(t_ns, source, None, "memory_used_bytes", gpu.memory_used_bytes)
            self._add(t_ns, source, None, "memory_total_bytes", gpu.memory_total_bytes)
