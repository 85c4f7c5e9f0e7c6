"""A run looks at the host first: another measurement running is said (and recorded with the run), and
--require-quiet-host refuses it in one line."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.serving import embedded_server
from tests.integration.helpers import assert_one_line_error, cli

pytestmark = pytest.mark.integration

CONFIG = ServerConfig(tenants=(TenantConfig(model="synthetic-sleep:service_ms=5"),))
BENCH = [
    "bench",
    "--backend",
    "inprocess",
    "--model",
    "synthetic-sleep",
    "--duration",
    "1",
    "--warmup",
    "0.2",
]


def _host_check(db: Path) -> dict:  # type: ignore[type-arg]
    with sqlite3.connect(db) as conn:
        (provenance,) = conn.execute("SELECT provenance_json FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return json.loads(provenance)["host_check"]  # type: ignore[no-any-return]


# `perseus` with the look at the host on a fake process table: no other process, no CPU used by anyone.
# Other measurements share the test host (other suites, other servers), so a real look is never sure to be
# quiet; what is tested here is what a run does with a quiet look. The real look is the next test's.
QUIET_PERSEUS = """
import sys, types, psutil
import perseus.telemetry.host as host
still = psutil.cpu_times()
table = {name: getattr(psutil, name) for name in dir(psutil) if not name.startswith("_")}
table.update(process_iter=lambda *args, **kwargs: iter(()), cpu_times=lambda *args, **kwargs: still)
host.psutil = types.SimpleNamespace(**table)
sys.argv[0] = "perseus"
from perseus.cli.app import main
main()
"""


def test_a_quiet_host_is_recorded_quiet(tmp_path: Path) -> None:
    db = tmp_path / "quiet.db"
    args = [*BENCH, "--db", str(db), "--require-quiet-host", "--allow-invalid"]
    result = subprocess.run(
        [sys.executable, "-c", QUIET_PERSEUS, *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "the host is not quiet" not in result.stdout
    check = _host_check(db)
    assert check["quiet"] is True and check["others"] == [] and check["reasons"] == []
    assert check["other_cpu_cores"] == 0.0 and check["sample_s"] == 0.2


def test_another_server_is_said_and_refused_on_request(tmp_path: Path) -> None:
    said_db, target_db = tmp_path / "said.db", tmp_path / "target.db"
    with embedded_server(CONFIG, tmp_path / "other") as other:  # someone else's measurement
        said = cli([*BENCH, "--db", str(said_db), "--allow-invalid"], env={**os.environ, "COLUMNS": "200"})
        refused = cli([*BENCH, "--db", str(said_db), "--require-quiet-host"])
        url = other.endpoints.grpc_url
        args = ["--url", url, "--model", "synthetic-sleep", "--duration", "1", "--warmup", "0.2"]
        target = cli(["bench", *args, "--allow-invalid", "--db", str(target_db)])
    # Said, and recorded by pid (the line shows three others; the test host may run more than ours).
    assert said.returncode == 0 and "the host is not quiet: other measurements are running: " in said.stdout
    assert f"tritonserver (pid {other.pid})" in _host_check(said_db)["others"]
    assert_one_line_error(refused, "the host is not quiet")
    assert refused.returncode == 8 and "--require-quiet-host" in refused.stderr
    # The server a bench measures is its own measurement, not another one (others' servers may run too).
    assert target.returncode == 0, target.stderr
    assert not [o for o in _host_check(target_db)["others"] if f"pid {other.pid})" in o]
