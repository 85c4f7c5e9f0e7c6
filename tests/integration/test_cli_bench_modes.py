"""`perseus bench` open loop, mix, trace, HTTP, workers and SLA from the command line."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.serving import RunningServer, embedded_server
from tests.integration.helpers import assert_one_line_error, cli

pytestmark = pytest.mark.integration

KEYS = {
    "throughput_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "requests",
    "errors",
    "intended_p99_ms",
    "late_fraction",
    "valid",
    "invalid_reasons",
    "loadgen_cpu_us_per_request",
    "loadgen_core_fraction",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=5", instances=2),
            TenantConfig(model="synthetic-cpu:dim=64:layers=2"),
        )
    )
    with embedded_server(config, tmp_path_factory.mktemp("bench-modes")) as running:
        yield running


def _bench(*args: str) -> dict:  # type: ignore[type-arg]
    result = cli(["bench", *args, "--json", "--warmup", "0.5"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data.keys() >= KEYS
    return data  # type: ignore[no-any-return]


def test_open_loop_poisson_with_sla(server: RunningServer) -> None:
    data = _bench(
        "--url",
        server.endpoints.grpc_url,
        "--model",
        "synthetic-sleep",
        "--rate",
        "50",
        "--duration",
        "3",
        "--sla",
        "p95=500ms",
    )
    assert data["offered_rps"] == 50.0 and data["errors"] == 0
    assert data["sla_met"] is True and data["qos_satisfaction"] == 1.0
    assert data["intended_p99_ms"] == data["p99_ms"] >= data["sent_p99_ms"] * 0.99


def test_mix_over_http_with_two_workers(server: RunningServer) -> None:
    data = _bench(
        "--url",
        server.endpoints.http_url,
        "--protocol",
        "http",
        "--workers",
        "2",
        "--mix",
        "synthetic-sleep=40,synthetic-cpu=60",
        "--arrival",
        "constant",
        "--duration",
        "3",
    )
    assert set(data["per_model"]) == {"synthetic-sleep", "synthetic-cpu"}
    assert data["per_model"]["synthetic-cpu"]["offered_rps"] == 60.0
    assert data["throughput_rps"] == pytest.approx(100.0, rel=0.1)


def test_trace_replay(server: RunningServer, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "t_offset_s,model,batch\n"
        + "".join(
            f"{i * 0.02:.3f},{'synthetic-cpu' if i % 2 else 'synthetic-sleep'},{1 + i % 3}\n"
            for i in range(100)
        )
    )
    data = _bench("--url", server.endpoints.grpc_url, "--trace", str(trace), "--duration", "1.5")
    assert data["errors"] == 0 and data["per_model"]["synthetic-cpu"]["requests"] > 0


def test_closed_loop_until_stable(server: RunningServer) -> None:
    data = _bench(
        "--url",
        server.endpoints.grpc_url,
        "--model",
        "synthetic-sleep",
        "--concurrency",
        "2",
        "--until-stable",
        "--duration",
        "20",
    )
    assert data["valid"] is True, data["invalid_reasons"]
    # Little's law, not a wall-clock bound: with two requests always in flight,
    # throughput x mean latency is 2 however slow the host is; each request
    # sleeps 5 ms on the server, so no latency can be shorter.
    assert data["throughput_rps"] * data["mean_ms"] / 1000 == pytest.approx(2, rel=0.1)
    assert data["p50_ms"] >= 5.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rate", "5", "--mix", "a=1"], "choose one of"),
        (["--mix", "a=fast"], "MODEL=REQ_PER_S"),
        (["--rate", "5", "--arrival", "bursty"], "--arrival must be"),
        (["--sla", "p95"], "cannot read SLA"),
        (["--protocol", "quic"], "--protocol must be"),
    ],
)
def test_bad_bench_arguments(server: RunningServer, args: list[str], needle: str) -> None:
    result = cli(["bench", "--url", server.endpoints.grpc_url, "--model", "synthetic-sleep", *args])
    assert_one_line_error(result, needle)
