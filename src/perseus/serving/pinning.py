"""Core pinning of tenants: which stub process serves which tenant, pin every thread, keep it pinned."""

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import psutil

from perseus.config.serving import format_cpuset, parse_cpuset
from perseus.core.errors import ConfigError

PROC = Path("/proc")
REPIN_PERIOD_S = 0.5


def tenant_of(cmdline: list[str]) -> str | None:
    """A python-backend stub's tenant: its argv[1] is `<repository>/<tenant>/<version>/model.py`."""
    if len(cmdline) < 2 or not cmdline[0].endswith("triton_python_backend_stub"):
        return None
    return Path(cmdline[1]).parent.parent.name


def stubs_by_tenant(server_pid: int) -> dict[str, list[int]]:
    """Live stub pids of a tritonserver, grouped by tenant (each instance is one stub process)."""
    found: dict[str, list[int]] = {}
    try:
        children = psutil.Process(server_pid).children()
    except psutil.NoSuchProcess:
        return found
    for child in children:
        with contextlib.suppress(psutil.Error):
            tenant = tenant_of(child.cmdline())
            if tenant is not None and child.status() != psutil.STATUS_ZOMBIE:
                found.setdefault(tenant, []).append(child.pid)
    return found


def cpus_allowed(pid: int, tid: int | None = None) -> tuple[int, ...]:
    """The kernel's Cpus_allowed_list of a process (or one of its threads)."""
    status = PROC / str(pid) / ("status" if tid is None else f"task/{tid}/status")
    for line in status.read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return parse_cpuset(line.split(":", 1)[1])
    raise ConfigError(f"no Cpus_allowed_list in {status}")


def thread_ids(pid: int) -> list[int]:
    try:
        return [int(entry.name) for entry in (PROC / str(pid) / "task").iterdir()]
    except OSError:
        return []


def pin(pid: int, cpus: Iterable[int]) -> int:
    """Pin every thread of pid (sched_setaffinity on a pid moves only its main thread). Returns how many
    threads were moved; threads that end meanwhile are skipped."""
    wanted = set(cpus)
    moved = 0
    for tid in thread_ids(pid):
        with contextlib.suppress(OSError):
            if os.sched_getaffinity(tid) != wanted:
                os.sched_setaffinity(tid, wanted)
                moved += 1
    return moved


def check_cpus(pinning: Mapping[str, tuple[int, ...]]) -> None:
    """Every pinned CPU must be one this process may use (else the kernel refuses, or the cgroup hides it)."""
    usable = os.sched_getaffinity(0)
    for tenant, cpus in pinning.items():
        missing = sorted(set(cpus) - usable)
        if missing:
            raise ConfigError(
                f"{tenant}: cpus {format_cpuset(missing)} are not available here "
                f"(usable: {format_cpuset(sorted(usable))})"
            )


class Pinner:
    """Keeps each pinned tenant's stubs (and every thread they start) on its cpuset, in a background thread.

    A stub that Triton restarts comes back unpinned, with a new pid: the next sweep pins it again.
    """

    def __init__(
        self, pids_by_tenant: Callable[[], dict[str, list[int]]], pinning: Mapping[str, tuple[int, ...]]
    ) -> None:
        self._pids, self.pinning = pids_by_tenant, dict(pinning)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perseus-pinner", daemon=True)
        self.sweeps = 0

    def sweep(self) -> int:
        moved = 0
        for tenant, pids in self._pids().items():
            if tenant in self.pinning:
                moved += sum(pin(pid, self.pinning[tenant]) for pid in pids)
        self.sweeps += 1
        return moved

    def _loop(self) -> None:
        while not self._stop.wait(REPIN_PERIOD_S):
            self.sweep()

    def __enter__(self) -> "Pinner":
        self.sweep()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
