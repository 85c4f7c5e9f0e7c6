"""A run looks at the host first: another measurement running is said (and recorded with the run), and
--require-quiet-host refuses it in one line."""

import json
import os
import sqlite3
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


def test_a_quiet_host_is_recorded_quiet(tmp_path: Path) -> None:
    db = tmp_path / "quiet.db"
    result = cli([*BENCH, "--db", str(db), "--require-quiet-host", "--allow-invalid"])
    assert result.returncode == 0, result.stderr + result.stdout
    check = _host_check(db)
    assert check["quiet"] is True and check["others"] == [] and check["sample_s"] == 0.2


def test_another_server_is_said_and_refused_on_request(tmp_path: Path) -> None:
    said_db, target_db = tmp_path / "said.db", tmp_path / "target.db"
    with embedded_server(CONFIG, tmp_path / "other") as other:  # someone else's measurement
        said = cli([*BENCH, "--db", str(said_db), "--allow-invalid"], env={**os.environ, "COLUMNS": "200"})
        refused = cli([*BENCH, "--db", str(said_db), "--require-quiet-host"])
        url = other.endpoints.grpc_url
        args = ["--url", url, "--model", "synthetic-sleep", "--duration", "1", "--warmup", "0.2"]
        target = cli(["bench", *args, "--allow-invalid", "--db", str(target_db)])
    assert said.returncode == 0 and "the host is not quiet: other measurements are running: " in said.stdout
    assert f"tritonserver (pid {other.pid})" in said.stdout
    assert any(f"pid {other.pid})" in o for o in _host_check(said_db)["others"])
    assert_one_line_error(refused, "the host is not quiet")
    assert refused.returncode == 8 and "--require-quiet-host" in refused.stderr
    # The server a bench measures is its own measurement, not another one.
    assert target.returncode == 0, target.stderr
    assert not [o for o in _host_check(target_db)["others"] if "tritonserver" in o]
