"""orchestrate/bench.py: `perseus bench` settings → a checked plan, the flag mistakes, the stored spec."""

from pathlib import Path

import pytest

from perseus.config.knobs import Knobs
from perseus.core.errors import ConfigError, EndpointError
from perseus.core.progress import NullReporter
from perseus.loadgen import TenantRate
from perseus.orchestrate.bench import run_bench
from perseus.orchestrate.bench_plan import (
    STARTED_URL,
    BenchSettings,
    parse_mix,
    parse_range,
    plan_bench,
    trace_duration_s,
)
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
        (BenchSettings(url="h:1", rate=1.0, mix="a=1"), "choose one of .* \\(got --rate and --mix\\)"),
        (BenchSettings(url="h:1", models=("m",), concurrency=2, rate=1.0), "got --concurrency and --rate"),
        (BenchSettings(url="h:1", models=("m",), mix="m=1"), "--model and --mix both name the models"),
        (
            BenchSettings(url="h:1", models=("m",), knobs=Knobs(instances=2)),
            "with --backend remote the server",
        ),
        (
            BenchSettings(url="h:1", models=("m",), metrics_url="h:8002/metrics"),
            "--metrics-url needs a scheme",
        ),
        (
            BenchSettings(models=("m",), backend="embedded", batch=16),
            "--batch 16 is above --max-batch-size 8",
        ),
        (BenchSettings(url="h:1", models=("m",), latency_threshold_ms=5), "--latency-threshold ends a sweep"),
        (BenchSettings(url="h:1", models=("m",), concurrency_range="4:2"), "need 0 < START ≤ END"),
        (BenchSettings(url="h:1", models=("m",), concurrency_range="1:4:0.5"), "whole users"),
        (BenchSettings(url="h:1", models=("m",), request_rate_range="fast"), "START:END\\[:STEP\\]"),
        (
            BenchSettings(url="h:1", models=("m",), duration_s=2, measurement_interval_ms=1000),
            "cannot hold 3 windows",
        ),
        (BenchSettings(url="h:1", mix=" , "), "--mix needs at least one"),
        (BenchSettings(url="h:1", mix="a=fast"), "--mix 'a=fast' must be MODEL=REQ_PER_S"),
        (BenchSettings(url="h:1", models=("m",), sla="p95"), "cannot read SLA"),
        (BenchSettings(models=("m",), backend="embedded", knobs=Knobs(instances=0)), "instances"),
        (BenchSettings(url="h:1", models=("m",), inputs="zero"), "--input-data: unknown input data 'zero'"),
        (
            BenchSettings(url="h:1", models=("m",), inputs="file:/nonexistent/in.npz"),
            "--input-data: input data file /nonexistent/in.npz: cannot read it",
        ),
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


def test_the_input_data_is_part_of_every_level_and_of_the_stored_spec() -> None:
    assert plan_bench(BenchSettings(url="h:1", models=("a",))).record()["inputs"] == "normal"
    plan = plan_bench(BenchSettings(url="h:1", models=("a",), concurrency_range="1:3", inputs="random"))
    assert [level.spec.inputs for level in plan.levels] == ["random"] * 3
    assert plan.record()["inputs"] == "random"


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
    plan = plan_bench(BenchSettings(backend="inprocess", trace=trace, warmup_s=0))
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


def test_parse_range_is_perf_analyzers() -> None:
    assert parse_range("1:8:2", "--concurrency-range") == [1, 3, 5, 7]
    assert parse_range("10:30:10", "--request-rate-range") == [10, 20, 30]
    assert parse_range("2:4", "--concurrency-range") == [2, 3, 4]
    assert parse_range("0.1:0.3:0.1", "--request-rate-range") == [0.1, 0.2, 0.3]
    with pytest.raises(ConfigError, match="at most 100"):
        parse_range("1:1000", "--concurrency-range")


def test_a_sweep_is_a_level_per_point() -> None:
    plan = plan_bench(
        BenchSettings(url="h:1", models=("a",), concurrency_range="1:5:2", latency_threshold_ms=9)
    )
    assert [(lv.name, lv.concurrency, lv.spec.concurrency) for lv in plan.levels] == [
        ("bench c=1", 1, 1),
        ("bench c=3", 3, 3),
        ("bench c=5", 5, 5),
    ]
    assert plan.sweep and plan.record()["levels"] == ["bench c=1", "bench c=3", "bench c=5"]
    rates = plan_bench(BenchSettings(url="h:1", models=("a", "b"), request_rate_range="10:20:10"))
    assert [lv.rate_rps for lv in rates.levels] == [10, 20]
    assert rates.levels[1].spec.offered_rps() == {"a": 20.0, "b": 20.0}


def test_stability_follows_perf_analyzer_by_default() -> None:
    rules = plan_bench(BenchSettings(url="h:1", models=("a",))).rules
    assert (rules.stability_latency, rules.tolerance, rules.max_duration_s) == ("mean", 0.10, 10.0)
    rules = plan_bench(BenchSettings(url="h:1", models=("a",), percentile=99, stability_percentage=5)).rules
    assert (rules.stability_latency, rules.tolerance) == ("p99", 0.05)
    rules = plan_bench(
        BenchSettings(url="h:1", models=("a",), measurement_interval_ms=500, max_trials=8)
    ).rules
    assert (rules.until_stable, rules.window_s, rules.max_duration_s, rules.min_window_requests) == (
        True,
        0.5,
        4.0,
        0,
    )


def test_a_trace_runs_its_own_length(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("t_offset_s,model\n0.0,a\n3.5,a\n")
    plan = plan_bench(BenchSettings(url="h:1", trace=trace, warmup_s=1.0))
    assert plan.rules.max_duration_s == pytest.approx(2.501)
    with pytest.raises(ConfigError, match="no longer than --warmup 4"):
        trace_duration_s(plan.spec.trace, 4.0)
    assert plan_bench(BenchSettings(url="h:1", trace=trace, duration_s=1.0)).rules.max_duration_s == 1.0
