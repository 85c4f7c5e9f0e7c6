"""Core pinning on the real server: each tenant's stubs (every thread) sit on its own cpuset, and stay."""

import os
import time
from pathlib import Path

import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.serving import embedded_server
from perseus.serving.pinning import REPIN_PERIOD_S, cpus_allowed, thread_ids

pytestmark = pytest.mark.integration


def _thread_cpus(pid: int) -> set[tuple[int, ...]]:
    return {cpus_allowed(pid, tid) for tid in thread_ids(pid)}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores")
def test_two_tenants_pinned_to_disjoint_cores(tmp_path: Path) -> None:
    first, second = sorted(os.sched_getaffinity(0))[:2]
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=5", instances=2, cpus=(first,)),
            TenantConfig(model="synthetic-cpu:dim=64:layers=2", cpus=(second,)),
        )
    )
    with embedded_server(config, tmp_path) as server:
        pids = server.tenant_pids()
        assert sorted(len(p) for p in pids.values()) == [1, 2]
        for tenant, cpus in (("synthetic-sleep", (first,)), ("synthetic-cpu", (second,))):
            for pid in pids[tenant]:
                assert cpus_allowed(pid) == cpus  # what /proc/PID/status says
                assert _thread_cpus(pid) == {cpus}  # and every thread, not only the main one
        # Something (a restarted stub, a new thread, another tool) undoes the pinning: it comes back.
        pid = pids["synthetic-cpu"][0]
        os.sched_setaffinity(pid, {first, second})
        assert cpus_allowed(pid) == (first, second)
        deadline = time.monotonic() + 10 * REPIN_PERIOD_S
        while cpus_allowed(pid) != (second,) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpus_allowed(pid) == (second,)
        # The server itself is not pinned: only the tenants are.
        assert len(cpus_allowed(server.pid)) >= 2
