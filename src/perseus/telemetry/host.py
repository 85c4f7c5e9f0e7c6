"""Is the host quiet enough to measure on? A ~1 s look before a run: other inference servers or perseus
processes, and CPU that other processes use (the frequency governor is among the host facts every run's
provenance records). Recorded with the run; a busy host is said, not ignored (two measurements on one
small host distort each other). Also what a trial reads of its host while it runs: others' CPU
(OthersMeter), CPU steal and the reference speed (HostGauge)."""

import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from perseus.telemetry.speed import reference_speed
from perseus.telemetry.steal import PROC_STAT, StealReading, read_steal

SERVER_NAMES = ("tritonserver", "triton_python_backend_stub")
PERSEUS_MARKERS = ("-m perseus", "bin/perseus", "perseus.serving.inprocess_worker")
BUSY_CORES = 0.25  # CPU others used during the look, in cores, above which the host is not quiet


@dataclass(frozen=True)
class HostCheck:
    sample_s: float
    other_cpu_cores: float  # CPU used by processes other than this one and its children
    others: list[str] = field(default_factory=list)  # other servers and perseus processes running
    reasons: list[str] = field(default_factory=list)  # why not quiet; empty when quiet

    @property
    def quiet(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quiet": self.quiet}


def _family(pid: int) -> set[int]:
    """This process, its ancestors (whoever started it) and its descendants: not "others"."""
    try:
        me = psutil.Process(pid)
        return {pid, *(p.pid for p in me.parents()), *(p.pid for p in me.children(recursive=True))}
    except psutil.Error:
        return {pid}


def _of_ports(ports: Iterable[int]) -> set[int]:
    """Processes listening on these ports (the server a bench is pointed at) and their children."""
    wanted, found = set(ports), set[int]()
    if not wanted:
        return found
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return found
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in wanted and conn.pid:
            found |= _family(conn.pid)  # with its parent: a `perseus serve` owns the server it measures
    return found


def _label(proc: psutil.Process) -> str | None:
    try:
        name = proc.name()
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return None
    if name in SERVER_NAMES or any(n in cmd.split(" ", 1)[0] for n in SERVER_NAMES):
        return f"{name} (pid {proc.pid})"
    if any(marker in cmd for marker in PERSEUS_MARKERS):
        return f"perseus (pid {proc.pid}: {cmd[:60]})"
    return None


def _busy_s() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _own_cpu_s(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            cpu = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += cpu.user + cpu.system
    return total


class OthersMeter:
    """CPU that processes other than this one, its family (see _family) and `also` (a server a bench is
    pointed at) use while a measurement runs: another measurement or a build on a small host slows the
    server under test. A process of the family started since counts whole; one that ended counts through
    this process, once it reaped it."""

    def __init__(self, also: Iterable[int] = ()) -> None:
        self._also = set(also)
        self._own, self._busy, self._start = self._own_s(), _busy_s(), time.monotonic()

    def _own_s(self) -> float:
        try:
            reaped = psutil.Process().cpu_times()
            done = reaped.children_user + reaped.children_system
        except psutil.Error:
            done = 0.0
        return _own_cpu_s(_family(os.getpid()) | self._also) + done

    def cores(self) -> float:
        """Cores others used on average since the meter started."""
        elapsed = time.monotonic() - self._start
        own = self._own_s() - self._own
        return max(0.0, (_busy_s() - self._busy - own) / elapsed) if elapsed > 0 else 0.0


class HostGauge(Protocol):
    """What a trial reads of its host at its start and end besides others' CPU."""

    def steal(self) -> StealReading: ...  # CPU steal so far (telemetry.steal)

    def speed_ops_s(self) -> float: ...  # the reference workload's speed now (telemetry.speed)


@dataclass(frozen=True)
class LocalHost:
    """This host: /proc/stat (or `stat`, a file a test writes) and the reference workload run here."""

    stat: Path = PROC_STAT

    def steal(self) -> StealReading:
        return read_steal(self.stat)

    def speed_ops_s(self) -> float:
        return reference_speed()


def check_host(sample_s: float = 1.0, target_ports: Iterable[int] = ()) -> HostCheck:
    """Look at the host for `sample_s` seconds. The processes serving `target_ports` (a local server a
    bench measures) are the measurement's own, not others."""
    targets = _of_ports(target_ports)
    meter = OthersMeter(targets)
    time.sleep(sample_s)
    other_cores = meter.cores()
    mine = _family(os.getpid()) | targets
    others = sorted(
        label
        for proc in psutil.process_iter()
        if proc.pid not in mine and (label := _label(proc)) is not None
    )
    reasons = []
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        reasons.append(f"other measurements are running: {shown}")
    if other_cores > BUSY_CORES:
        reasons.append(f"other processes used {other_cores:.2f} cores during a {sample_s:g} s look")
    return HostCheck(sample_s, round(other_cores, 3), others, reasons)
