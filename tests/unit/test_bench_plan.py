"""orchestrate/bench.py: `perseus bench` settings → a checked plan, the flag mistakes, the stored spec."""

from pathlib import Path

import pytest

from perseus.config.knobs import Knobs
from perseus.core.errors import ConfigError, EndpointError
from perseus.core.progress import NullReporter
from perseus.loadgen import TenantRate
from perseus.orchestrate.bench import STARTED_URL, BenchSettings, parse_mix, plan_bench, run_bench
from perseus.store import Store


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (BenchSettings(url="h:1", models=("m",), arrival="bursty"), "--arrival must be"),
        (BenchSettings(url="h:1", models=("m",), protocol="quic"), "--protocol must be"),
        (BenchSettings(models=("m",), backend="nowhere"), "--backend must be one of"),
        (BenchSettings(models=("m",)), "--url is required"),
        (BenchSettings(models=("m",), backend="embedded", url="h:1"), "--url and --metrics-url"),
        (BenchSettings(backend="inprocess"), "--model is required"),
        (BenchSettings(url="h:1"), "--model is required"),
        (BenchSettings(url="h:1", rate=1.0, mix="a=1"), "choose one of --rate, --trace and --mix"),
        (BenchSettings(url="h:1", mix=" , "), "--mix needs at least one"),
        (BenchSettings(url="h:1", mix="a=fast"), "--mix 'a=fast' must be MODEL=REQ_PER_S"),
        (BenchSettings(url="h:1", models=("m",), sla="p95"), "cannot read SLA"),
        (BenchSettings(models=("m",), backend="embedded", knobs=Knobs(instances=0)), "instances"),
    ],
)
def test_flag_mistakes_are_one_config_error(settings: BenchSettings, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        plan_bench(settings)


def test_parse_mix() -> None:
    assert parse_mix("a=40, b=1.5", "constant", 2) == (
        TenantRate("a", 40.0, "constant", 2),
        TenantRate("b", 1.5, "constant", 2),
    )


def test_a_remote_closed_loop() -> None:
    plan = plan_bench(BenchSettings(url="h:1", models=("a", "b"), concurrency=4, protocol="http"))
    assert (plan.spec.mode, plan.spec.tenants, plan.spec.concurrency) == ("closed", ("a", "b"), 4)
    assert plan.server is None and plan.sla is None
    record = plan.record()
    assert (record["url"], record["protocol"], record["backend"], record["server"]) == (
        "h:1",
        "http",
        "remote",
        None,
    )


def test_a_started_server_for_a_mix() -> None:
    settings = BenchSettings(
        backend="embedded",
        mix="synthetic-cpu=5,synthetic-sleep=2",
        knobs=Knobs(max_batch_size=4),
        sla="p95=20ms",
    )
    plan = plan_bench(settings)
    assert plan.server is not None and [t.max_batch_size for t in plan.server.tenants] == [4, 4]
    assert plan.spec.mode == "open" and plan.spec.offered_rps() == {
        "synthetic-cpu": 5.0,
        "synthetic-sleep": 2.0,
    }
    record = plan.record()
    assert record["url"] == STARTED_URL and record["backend"] == "embedded" and record["sla"] == "p95 ≤ 20 ms"
    assert [t["model"] for t in record["server"]["tenants"]] == ["synthetic-cpu", "synthetic-sleep"]


def test_a_trace_names_the_models(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("t_offset_s,model\n0.0,b\n0.1,a\n")
    plan = plan_bench(BenchSettings(backend="inprocess", trace=trace))
    assert plan.spec.mode == "trace" and plan.spec.tenants == ("a", "b")
    assert plan.server is not None and [t.model for t in plan.server.tenants] == ["a", "b"]


def test_an_unreachable_endpoint_fails_the_recorded_run(tmp_path: Path) -> None:
    with Store(tmp_path / "results.db") as store:
        with pytest.raises(EndpointError, match="cannot reach"):
            run_bench(BenchSettings(url="127.0.0.1:1", models=("m",), duration_s=0.1), store, NullReporter())
        [run] = store.runs()
        assert (run.kind, run.status, run.spec["url"], run.spec["protocol"]) == (
            "bench",
            "failed",
            "127.0.0.1:1",
            "grpc",
        )
