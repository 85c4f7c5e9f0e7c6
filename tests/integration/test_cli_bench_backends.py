"""`perseus bench --backend embedded|inprocess` (perseus starts the server) and the server-side breakdown."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from perseus.core import wire
from perseus.store import RunRow, Store
from tests.integration.helpers import assert_one_line_error, cli, wait_gone

pytestmark = pytest.mark.integration

# These tests are about backends, not verdicts: a short run a busy host made INVALID still exits 0.
SHORT = ["--duration", "3", "--warmup", "0.5", "--telemetry-interval", "0.5", "--json", "--allow-invalid"]


def _bench(*args: str) -> dict[str, Any]:
    done = cli(["bench", *args, *SHORT])
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_embedded_backend_reports_batching_and_tenant_usage(perseus_home: Path) -> None:
    model = "synthetic-cpu:dim=256:layers=4"
    batched = _bench(
        "--backend",
        "embedded",
        "--model",
        model,
        "--concurrency",
        "8",
        "--dynamic-batching",
        "--max-queue-delay-us",
        "2000",
    )
    assert batched["errors"] == 0 and batched["requests"] > 100
    server = batched["server"]["synthetic-cpu"]
    assert server["avg_batch_size"] > 1.0  # the batcher merged queued requests
    assert server["requests"] >= batched["requests"] and server["compute_infer_us"] > 0
    assert batched["usage"]["synthetic-cpu"]["cpu_s"] > 0
    assert batched["usage"]["synthetic-cpu"]["rss_peak_bytes"] > 10 * 2**20
    single = _bench("--backend", "embedded", "--model", model, "--concurrency", "8")
    assert single["server"]["synthetic-cpu"]["avg_batch_size"] == pytest.approx(1.0)
    assert wait_gone(perseus_home, timeout=5) == []


def test_inprocess_backend_runs_the_same_load(perseus_home: Path) -> None:
    data = _bench("--backend", "inprocess", "--model", "synthetic-sleep:service_ms=20", "--concurrency", "1")
    assert data["errors"] == 0 and data["concurrency"] == 1
    # Laws, not the host's speed: one 20 ms sleep at a time serves at most 1 / 20 ms = 50 req/s (2% for the
    # window's edges), no latency is shorter than the sleep, and one request is in flight at a time, so
    # throughput × mean latency ≤ 1 (Little's law; the window may cut the last one, 20 ms / 3 s).
    assert data["throughput_rps"] <= 50 * 1.02 and data["p50_ms"] >= 20.0, data
    assert data["throughput_rps"] * data["mean_ms"] / 1000 <= 1.01, data
    assert data["server"] == {}  # no Triton, so no /metrics; the worker's own usage is still measured
    assert "synthetic-sleep" in data["usage"]


def _stored_run(home: Path, run_id: int) -> RunRow:
    """The run as stored, after checking its trial was sent to the same URL with the same protocol."""
    with Store(home / "results.db") as store:
        run, [trial] = store.run(run_id), store.trials(run_id)
    assert (trial.spec["url"], trial.spec["protocol"]) == (run.spec["url"], run.spec["protocol"])
    return run


@pytest.mark.parametrize(("protocol", "service"), [("grpc", "GRPCInferenceService"), ("http", "HTTPService")])
def test_a_started_server_is_stored_with_its_address(perseus_home: Path, protocol: str, service: str) -> None:
    model = "synthetic-sleep:service_ms=1"
    data = _bench("--backend", "embedded", "--model", model, "--protocol", protocol)
    run = _stored_run(perseus_home, data["run_id"])
    url, log = run.spec["url"], perseus_home / "runs" / f"run-{data['run_id']}" / "tritonserver.log"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", url) and run.spec["protocol"] == protocol
    assert f"Started {service} at {url}" in log.read_text()  # the port tritonserver really listened on
    assert run.spec["backend"] == "embedded" and run.spec["server"]["tenants"][0]["model"] == model


def test_the_in_process_reference_is_stored_with_its_url_and_protocol(perseus_home: Path) -> None:
    data = _bench("--backend", "inprocess", "--model", "synthetic-sleep:service_ms=1")
    run = _stored_run(perseus_home, data["run_id"])
    sockets = (perseus_home / "runs" / f"run-{data['run_id']}" / "inproc").resolve()
    assert (run.spec["url"], run.spec["protocol"]) == (wire.format_url(sockets), "inprocess")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--backend", "embedded", "--url", "127.0.0.1:1", "--model", "synthetic-cpu"],
            "--url and --metrics-url",
        ),
        (["--backend", "nowhere", "--model", "synthetic-cpu"], "--backend must be one of"),
        (["--model", "synthetic-cpu"], "--url is required"),
        (
            ["--backend", "embedded", "--model", "synthetic-cpu", "--pin", "synthetic-cpu=999"],
            "not available",
        ),
    ],
)
def test_bad_backend_arguments(args: list[str], needle: str) -> None:
    assert_one_line_error(cli(["bench", *args, "--duration", "1"]), needle)
