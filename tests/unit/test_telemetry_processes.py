"""Per-tenant process accounting: the CPU ledger over a fake table, and the real psutil table."""

import os
import subprocess
import sys

import pytest

from perseus.telemetry import CpuLedger, HostTimes, PsutilTable, read_tenants
from perseus.telemetry.processes import host_cpu_percent
from tests.fixtures.telemetry_fakes import FakeTable


def test_read_tenants_sums_and_reports_gone() -> None:
    table = FakeTable({1: (2.0, 100), 2: (3.0, 50), 3: (1.0, 7)})
    usage = read_tenants(table, {"a": [1, 2, 99], "b": [3]})
    assert (usage["a"].cpu_s, usage["a"].rss_bytes, usage["a"].gone) == (5.0, 150, (99,))
    assert [p.pid for p in usage["a"].processes] == [1, 2]
    assert (usage["b"].cpu_s, usage["b"].gone) == (1.0, ())


def test_ledger_counts_from_the_start_across_exits_and_restarts() -> None:
    table = FakeTable({1: (10.0, 0), 2: (20.0, 0)})
    ledger = CpuLedger()
    pids = {"a": [1, 2]}
    ledger.update(read_tenants(table, pids))
    assert ledger.used_s("a") == 0.0
    table.burn(1, 1.5)
    table.burn(2, 0.5)
    ledger.update(read_tenants(table, pids))
    assert ledger.used_s("a") == 2.0
    # pid 2 dies after another 0.25 s (unseen: lost with it); its replacement 3 is born and uses 0.75 s.
    table.burn(2, 0.25)
    del table.procs[2]
    table.procs[3] = (0.75, 0)
    table.burn(1, 1.0)
    ledger.update(read_tenants(table, {"a": [1, 3]}))
    assert ledger.used_s("a") == pytest.approx(1.5 + 0.5 + 1.0 + 0.75)
    assert ledger.initial_pids() == {"a": (1, 2)}
    with pytest.raises(KeyError):
        ledger.used_s("nobody")


def test_host_cpu_percent() -> None:
    assert host_cpu_percent(HostTimes(10, 100), HostTimes(13, 104)) == 75.0
    assert host_cpu_percent(HostTimes(10, 100), HostTimes(10, 100)) is None


def test_real_table_reads_this_process_and_not_a_dead_one() -> None:
    table = PsutilTable()
    sum(i * i for i in range(200_000))  # some CPU time of our own
    me = table.read(os.getpid())
    assert me is not None and me.cpu_s > 0 and me.rss_bytes > 10_000_000
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert table.read(child.pid) is not None or child.poll() is not None
    child.wait()
    assert table.read(child.pid) is None  # reaped: gone
    host = table.host_times()
    assert 0 < host.busy_s < host.total_s


def test_real_table_treats_a_zombie_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    table = PsutilTable()
    # Wait for it to exit without reaping it (it stays a zombie until we call wait()).
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert table.read(child.pid) is None
    child.wait()
