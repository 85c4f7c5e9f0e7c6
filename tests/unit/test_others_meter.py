"""CPU that other processes take while a trial runs, measured on real processes: a busy loop this process
started counts as its own, one that is nobody's child of ours counts as another's; each judged against
CPU time read from /proc, on a host other work shares."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from perseus.core.reasons import Reason, Why
from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import doubtful, feasible
from perseus.telemetry.host import OthersMeter

BURN = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks
# The test host is shared (other suites run beside this one), so nothing below assumes the rest of it is
# quiet: each meter is judged against CPU time read from /proc over the same interval, and the busy loops
# run until they have used the CPU asked of them, however long a busy host makes that take.


def _cpu_s(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def _host_busy_s() -> float:
    """CPU seconds the whole host spent busy (all cores), from /proc/stat: user, nice, system, irq,
    softirq and steal; idle and iowait are not busy, and guest time is already inside user."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) * TICK_S


def _family_s() -> float:
    """CPU seconds of this process and of the children it has reaped."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextmanager
def _orphan_burner() -> Iterator[int]:
    """A busy loop re-parented away from this process (its starting shell exits at once)."""
    out = subprocess.run(
        ["sh", "-c", f'{sys.executable} -c "{BURN}" >/dev/null 2>&1 & echo $!'],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(out.stdout.strip())
    try:
        yield pid
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.02)


def test_a_process_of_nobody_in_this_family_is_counted_as_others() -> None:
    """Two meters over the same interval, one told the burner is the measurement's own (`also`): whatever
    else the host runs cancels out, and what is left between them is the burner's own CPU time."""
    with _orphan_burner() as pid:
        _wait_for(lambda: _cpu_s(pid) > 0.05, "the burner running")
        t0, burner0 = time.monotonic(), _cpu_s(pid)
        everyone, without_it = OthersMeter(), OthersMeter(also=[pid])
        _wait_for(lambda: _cpu_s(pid) - burner0 >= 0.5, "the burner using 0.5 s of CPU")
        counted = everyone.cores() - without_it.cores()
        elapsed, burned = time.monotonic() - t0, _cpu_s(pid) - burner0
    # Counted as this process's own, the burner would leave no difference at all. The meters read the host
    # a few ms apart (each walks this process's family first), and on a busy host others' CPU in those
    # gaps adds up to 2 cores × the gap: 0.15 s allows 75 ms of gaps, and stays well under the 0.5 s a
    # wrong meter would miss.
    assert counted * elapsed == pytest.approx(burned, abs=0.15), (counted, elapsed, burned)


def test_this_process_and_its_children_are_not_others() -> None:
    """Every busy CPU second on the host is this family's or another's: the meter's others are the host's
    busy time less the family's, both read here from /proc over the same interval. Counting the family
    too would add the ≥ 0.75 s this process burns (and its child's)."""
    host0, family0, t0 = _host_busy_s(), _family_s(), time.monotonic()
    meter = OthersMeter()
    child = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.DEVNULL)
    try:
        mine0 = os.times()
        while (t := os.times()).user + t.system - mine0.user - mine0.system < 0.75:  # this process busy too
            assert time.monotonic() - t0 < 30, "this process did not get 0.75 s of CPU in 30 s"
    finally:
        child.kill()
        child.wait()
    others_s = meter.cores() * (time.monotonic() - t0)
    host_s, family_s = _host_busy_s() - host0, _family_s() - family0
    assert family_s >= 0.75
    assert others_s == pytest.approx(host_s - family_s, abs=0.1 + 0.05 * host_s), (others_s, host_s, family_s)


def test_a_busy_host_is_a_doubt_measured_again() -> None:
    met = {"sla": "p95 ≤ 100 ms", "sla_met": False, "p95_ms": 140.0}
    reasons = (Reason(Why.HOST_BUSY, "host busy: other processes used 0.80 cores", {"cores": 0.8}),)
    busy = TrialRow(1, 1, "t", {}, "invalid", reasons, TrialSummary({"a": met}))
    assert doubtful(busy)  # slowed by others: measuring again may tell
    ok = TrialRow(1, 1, "t", {}, "invalid", reasons, TrialSummary({"a": {**met, "sla_met": True}}))
    assert feasible(ok, ["a"])[0]  # met its SLA even so: others can only have made it look slower
