"""On the real embedded Triton: a trial while two busy loops outside perseus take both cores is INVALID
("host busy"), and every trial records how the host was — CPU steal and the reference speed at its start
and end — in its stored summary, on `perseus bench`'s host line and in `perseus report`."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.core.progress import NullReporter
from perseus.core.reasons import Why
from perseus.loadgen import LoadSpec, TrialRules
from perseus.orchestrate.session import ServerSession
from perseus.serving import RunningServer
from perseus.store import Store
from tests.integration.helpers import cli, wait_for

pytestmark = pytest.mark.integration

# A busy loop; it ends by itself after 120 s, so a test killed before its `finally` leaves nothing burning.
BURN = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"
MODEL = "synthetic-sleep:service_ms=5"


@contextmanager
def _burners(count: int) -> Iterator[list[int]]:
    """Busy loops that are nobody's child of this process (their starting shell exits at once): processes
    other than perseus's own family, as someone else's build would be."""
    pids: list[int] = []
    try:
        for _ in range(count):
            out = subprocess.run(
                ["sh", "-c", f'{sys.executable} -c "{BURN}" >/dev/null 2>&1 & echo $!'],
                capture_output=True,
                text=True,
                check=True,
            )
            pids.append(int(out.stdout.strip()))
        yield pids
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cpu_s(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _spec(server: RunningServer) -> LoadSpec:
    return LoadSpec(url=server.endpoints.grpc_url, tenants=("synthetic-sleep",), concurrency=2)


def test_a_trial_while_both_cores_burn_is_host_busy(tmp_path: Path, perseus_home: Path) -> None:
    config = ServerConfig(tenants=(TenantConfig(model=MODEL, instances=2),))
    with (
        Store(tmp_path / "results.db") as store,
        ServerSession(config, tmp_path / "run", NullReporter()) as session,
    ):
        run_id = store.create_run("test", {}, {})
        session.server()  # started before the burners, which would only slow its start
        with _burners(2) as pids:
            wait_for(lambda: all(_cpu_s(pid) > 0.05 for pid in pids), "both burners running", timeout=60)
            outcome = session.trial(
                store, run_id, "burning", _spec, TrialRules.fixed(2.0, 0.5), interval_s=0.5
            )
        [row] = store.trials(run_id)
    assert outcome.status == "invalid", outcome.reasons
    busy = [r for r in row.reasons if r.kind == Why.HOST_BUSY]
    assert busy and all(r.text.startswith("host busy: ") for r in busy), row.reasons
    # Two loops that never wait take far more than the 0.25 cores a busy host starts at, whatever the
    # host's speed: each has a core's worth of work and two cores to share with the server.
    assert row.summary.host["other_cores"] > 0.25
    # Recorded whatever came of them: steal (a VM's; 0 on a host without a hypervisor) and the speed.
    assert row.summary.host["steal_cores"] >= 0
    assert row.summary.host["host_speed_start_ops_s"] > 0 and row.summary.host["host_speed_end_ops_s"] > 0
    assert outcome.host == row.summary.host


HOST_LINE = r"host: CPU steal \d+\.\d\d cores; reference speed \d+\.\d\d → \d+\.\d\d M ops/s"


def test_bench_and_its_report_say_how_the_host_was(perseus_home: Path) -> None:
    wide = {**os.environ, "COLUMNS": "200"}  # each line whole
    args = ["bench", "--backend", "embedded", "--model", "synthetic-sleep:service_ms=1", "--allow-invalid"]
    done = cli([*args, "--duration", "1", "--warmup", "0.2"], env=wide)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"^{HOST_LINE}$", done.stdout, re.MULTILINE), done.stdout
    with Store(perseus_home / "results.db") as store:
        run_id = store.runs()[-1].id
    report = cli(["report", str(run_id)], env=wide)
    assert report.returncode == 0, report.stderr
    assert re.search(HOST_LINE, report.stdout), report.stdout
