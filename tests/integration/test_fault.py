"""A stub killed mid-trial on the real server: the trial is FAILED with the reason, the server is torn
down, nothing of it remains, and the next trial runs on a fresh server."""

import os
import signal
import threading
from pathlib import Path

import psutil
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.core.progress import NullReporter
from perseus.loadgen import LoadSpec, TrialRules
from perseus.orchestrate.session import ServerSession
from perseus.serving import RunningServer
from perseus.store import Store
from tests.integration.helpers import dead, triton_served, wait_for, wait_gone

pytestmark = pytest.mark.integration


def _spec(server: RunningServer) -> LoadSpec:
    return LoadSpec(url=server.endpoints.grpc_url, tenants=("synthetic-sleep",), concurrency=2)


def test_stub_killed_mid_trial(tmp_path: Path, perseus_home: Path) -> None:
    config = ServerConfig(tenants=(TenantConfig(model="synthetic-sleep:service_ms=5", instances=2),))
    rules = TrialRules.fixed(3.0, 0.5)
    with (
        Store(tmp_path / "results.db") as store,
        ServerSession(config, tmp_path / "run", NullReporter()) as session,
    ):
        run_id = store.create_run("test", {}, {})
        first = session.server()
        victim = first.tenant_pids()["synthetic-sleep"][0]
        first_children = [p.pid for p in psutil.Process(first.pid).children()]
        metrics_url = first.endpoints.metrics_url

        problems: list[BaseException] = []

        def kill_once_under_way() -> None:
            # Mid-trial by Triton's own count, not by a guess at how long the trial takes to begin: the
            # load has started once the model has served more than the one request a preflight sends.
            try:
                wait_for(
                    lambda: triton_served(metrics_url, "synthetic-sleep") >= 20,
                    "the trial's load reaching the server",
                    timeout=60,
                )
                os.kill(victim, signal.SIGKILL)
            except BaseException as exc:  # shown by the assertion below, not lost in the thread
                problems.append(exc)

        killer = threading.Thread(target=kill_once_under_way)
        killer.start()
        failed = session.trial(store, run_id, "killed", _spec, rules, interval_s=0.5)
        killer.join()
        assert not problems, problems
        assert failed.status == "failed"
        assert failed.reason is not None and f"stub process {victim} of synthetic-sleep died" in failed.reason
        # The broken server is gone, with every stub it had.
        assert all(dead(pid) for pid in [first.pid, *first_children])
        again = session.trial(store, run_id, "after", _spec, rules, interval_s=0.5)
        second = session.server()
        assert session.started == 2 and second.pid != first.pid
        assert again.status != "failed", again.reason  # valid, or invalid only for noise on a busy host
        assert again.summaries["synthetic-sleep"].errors == 0
        assert again.usage["synthetic-sleep"]["cpu_s"] > 0
        trials = store.trials(run_id)
        assert [(t.name, t.status) for t in trials] == [("killed", "failed"), ("after", again.status)]
        assert trials[0].reason == failed.reason
        assert store.telemetry(trials[0].id) and store.telemetry(trials[1].id)
    assert wait_gone(perseus_home, timeout=5) == []
