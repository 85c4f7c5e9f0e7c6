"""Per-tenant process accounting (CPU seconds, RSS) and host CPU, behind a small process-table Protocol."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import psutil


@dataclass(frozen=True, slots=True)
class ProcReading:
    pid: int
    cpu_s: float  # user + system CPU seconds since the process started (all its threads)
    rss_bytes: int


@dataclass(frozen=True, slots=True)
class HostTimes:
    """Cumulative CPU seconds of the whole host, summed over all cores."""

    busy_s: float
    total_s: float


class ProcessTable(Protocol):
    def read(self, pid: int) -> ProcReading | None:
        """The process's counters now, or None when it is gone (exited, zombie, or its pid reused)."""

    def host_times(self) -> HostTimes: ...


class PsutilTable:
    """The real process table."""

    def __init__(self) -> None:
        # Kept so a pid reused by a new process is noticed: psutil compares the creation time.
        self._procs: dict[int, psutil.Process] = {}

    def read(self, pid: int) -> ProcReading | None:
        try:
            proc = self._procs.get(pid)
            if proc is None:
                proc = self._procs[pid] = psutil.Process(pid)
            if not proc.is_running():
                raise psutil.NoSuchProcess(pid)
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:  # dead, waiting to be reaped
                    raise psutil.NoSuchProcess(pid)
                times = proc.cpu_times()
                rss_bytes = proc.memory_info().rss
        except psutil.Error:  # gone, or not ours to read: either way it serves no tenant we can account
            self._procs.pop(pid, None)
            return None
        return ProcReading(pid, times.user + times.system, rss_bytes)

    def host_times(self) -> HostTimes:
        times = psutil.cpu_times()
        # As psutil.cpu_percent does: guest time is already inside user/nice, idle and iowait are not busy.
        total_s = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        idle_s = times.idle + getattr(times, "iowait", 0.0)
        return HostTimes(busy_s=total_s - idle_s, total_s=total_s)


@dataclass(frozen=True, slots=True)
class TenantUsage:
    tenant: str
    processes: tuple[ProcReading, ...]  # those still running
    gone: tuple[int, ...]  # pids asked about that no longer run

    @property
    def cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.processes)

    @property
    def rss_bytes(self) -> int:
        return sum(p.rss_bytes for p in self.processes)


def read_tenants(table: ProcessTable, tenant_pids: Mapping[str, Sequence[int]]) -> dict[str, TenantUsage]:
    usage: dict[str, TenantUsage] = {}
    for tenant, pids in tenant_pids.items():
        readings = {pid: table.read(pid) for pid in pids}
        usage[tenant] = TenantUsage(
            tenant,
            tuple(r for r in readings.values() if r is not None),
            tuple(pid for pid, r in readings.items() if r is None),
        )
    return usage


def host_cpu_percent(before: HostTimes, after: HostTimes) -> float | None:
    """Busy share of the whole host between two readings, 0..100 (all cores busy = 100)."""
    total_s = after.total_s - before.total_s
    return None if total_s <= 0 else 100.0 * (after.busy_s - before.busy_s) / total_s


class CpuLedger:
    """CPU seconds each tenant used since the first update, across processes that end or are replaced.

    A process present at the first update counts from its reading then; one that appears later (a
    restarted stub) was born inside the interval, so all of its CPU time counts. A process that ends
    keeps what it had used at its last reading (what it used after that is lost with it).
    """

    def __init__(self) -> None:
        self._base_s: dict[tuple[str, int], float] = {}
        self._last_s: dict[tuple[str, int], float] = {}
        self._initial: dict[str, tuple[int, ...]] = {}
        self._started = False

    def update(self, usage: Mapping[str, TenantUsage]) -> None:
        for tenant, tenant_usage in usage.items():
            if not self._started:
                self._initial[tenant] = tuple(p.pid for p in tenant_usage.processes)
            for reading in tenant_usage.processes:
                key = (tenant, reading.pid)
                self._base_s.setdefault(key, 0.0 if self._started else reading.cpu_s)
                self._last_s[key] = reading.cpu_s
        self._started = True

    def used_s(self, tenant: str) -> float:
        if tenant not in self.tenants():
            raise KeyError(f"no tenant {tenant!r} was sampled")
        return sum(last - self._base_s[key] for key, last in self._last_s.items() if key[0] == tenant)

    def tenants(self) -> list[str]:
        return sorted({tenant for tenant, _ in self._base_s} | set(self._initial))

    def initial_pids(self) -> dict[str, tuple[int, ...]]:
        """The live pids of each tenant at the first update."""
        return dict(self._initial)
