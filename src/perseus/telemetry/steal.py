"""CPU steal: time this VM's vCPUs were ready to run but the hypervisor ran something else, read from the
aggregate `cpu` line of /proc/stat; over a trial, the cores stolen on average (steal seconds / wall
seconds). A parser of the file's text and a reader of a path, so a test can hand it a fake file."""

import os
import time
from pathlib import Path
from typing import NamedTuple

PROC_STAT = Path("/proc/stat")
# After the `cpu` label: user nice system idle iowait irq softirq steal guest guest_nice (proc(5)).
STEAL_FIELD = 8  # index in the line split on whitespace, the label being 0
# Cores stolen on average over a trial above which it is INVALID ("host busy"). A healthy VM loses next to
# nothing (this host: under 0.001 cores averaged since boot); 0.10 cores is 5% of a 2-core host's CPU, about
# what the windows' ±10% stability tolerance can hide, so steal above it distorts the trial unseen.
STEAL_BUSY_CORES = 0.10


class StealReading(NamedTuple):
    steal_s: float | None  # CPU seconds stolen from all vCPUs since boot; None: not readable here
    t_s: float  # time.monotonic() when read


def parse_steal_ticks(text: str) -> int | None:
    """Steal of the aggregate `cpu` line of /proc/stat's text, in clock ticks (USER_HZ); None when it has no
    such line or the line no steal field (kernels before 2.6.11)."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return int(fields[STEAL_FIELD]) if len(fields) > STEAL_FIELD else None
    return None


def tick_hz() -> int:
    """USER_HZ: the unit /proc/stat counts CPU time in (100 on nearly every Linux)."""
    return os.sysconf("SC_CLK_TCK")


def read_steal(path: Path = PROC_STAT, hz: int | None = None) -> StealReading:
    """CPU steal so far from `path` (a /proc/stat), and when it was read; steal None where it cannot be read
    (not Linux)."""
    t_s = time.monotonic()
    try:
        ticks = parse_steal_ticks(path.read_text(encoding="ascii", errors="replace"))
    except (OSError, ValueError):
        return StealReading(None, t_s)
    return StealReading(None if ticks is None else ticks / (hz or tick_hz()), t_s)


def steal_cores(first: StealReading, last: StealReading) -> float | None:
    """Cores stolen on average between two readings; None when either could not read steal."""
    if first.steal_s is None or last.steal_s is None:
        return None
    wall_s = last.t_s - first.t_s
    return max(0.0, (last.steal_s - first.steal_s) / wall_s) if wall_s > 0 else 0.0
