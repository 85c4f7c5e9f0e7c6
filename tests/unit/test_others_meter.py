"""CPU that other processes take while a trial runs, measured on real processes: a busy loop this process
started counts as its own, one that is nobody's child of ours counts as another's."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from perseus.core.reasons import Reason, Why
from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import doubtful, feasible
from perseus.telemetry.host import OthersMeter

BURN = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass\nprint('done')"


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


@pytest.mark.serial
def test_a_process_of_nobody_in_this_family_is_counted_as_others() -> None:
    with _orphan_burner():
        time.sleep(0.2)
        meter = OthersMeter()
        time.sleep(1.5)
        assert meter.cores() > 0.5


@pytest.mark.serial
def test_this_process_and_its_children_are_not_others() -> None:
    meter = OthersMeter()
    child = subprocess.Popen([sys.executable, "-c", BURN.replace("3", "1.5")], stdout=subprocess.DEVNULL)
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # this process busy too
        pass
    child.wait()
    assert meter.cores() < 0.5  # a quiet host's background is far below the busy loops' two cores


def test_a_busy_host_is_a_doubt_measured_again() -> None:
    met = {"sla": "p95 ≤ 100 ms", "sla_met": False, "p95_ms": 140.0}
    reasons = (Reason(Why.HOST_BUSY, "host busy: other processes used 0.80 cores", {"cores": 0.8}),)
    busy = TrialRow(1, 1, "t", {}, "invalid", reasons, TrialSummary({"a": met}))
    assert doubtful(busy)  # slowed by others: measuring again may tell
    ok = TrialRow(1, 1, "t", {}, "invalid", reasons, TrialSummary({"a": {**met, "sla_met": True}}))
    assert feasible(ok, ["a"])[0]  # met its SLA even so: others can only have made it look slower
