"""The load generator against queueing ground truth on the real server (synthetic-sleep: known S)."""

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.core.reasons import Why
from perseus.loadgen import ALL, LoadSpec, TenantRate, TrialRules, run_load, summarize, verdict
from perseus.serving import RunningServer, embedded_server
from perseus.telemetry.breakdown import model_breakdown
from perseus.telemetry.triton_metrics import scrape

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=200", instances=4),  # "slow": c/S law
            TenantConfig(model="synthetic-sleep:service_ms=10", instances=1),  # "fast": M/D/1
            TenantConfig(model="synthetic-sleep:service_ms=20", instances=1),  # "mid": overload
        )
    )
    with embedded_server(config, tmp_path_factory.mktemp("loadgen-server")) as running:
        yield running


def _name(server: RunningServer, service_ms: str) -> str:
    return next(t.name for t in server.tenants if t.model.options.get("service_ms") == service_ms)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_closed_loop_throughput_is_c_over_r_and_about_c_over_s(server: RunningServer, protocol: str) -> None:
    model = _name(server, "200")
    url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
    spec = LoadSpec(url=url, tenants=(model,), concurrency=4, protocol=protocol)  # type: ignore[arg-type]
    # 20 s: each user completes ⌊20/R⌋ or ⌈20/R⌉ requests, so counting alone is exact to ±4/400.
    records = run_load(spec, TrialRules.fixed(20.0, 1.0))
    summary = summarize(records)[model]
    assert summary.errors == 0
    # Little's law: c users always in flight, each round trip R long (from the actual send) → X = c/R.
    assert summary.throughput_rps == pytest.approx(4 / (summary.sent_mean_ms / 1e3), rel=0.02), summary
    # ...and R is the 200 ms service plus the server's and client's few ms (2-3% here, 5.5 ms once on a
    # busy host): X = c/S within 5%, and never above it.
    assert 4 / 0.200 * 0.95 <= summary.throughput_rps <= 4 / 0.200 * 1.01, summary


def _mean_latency_s(spec: LoadSpec, rules: TrialRules, model: str) -> float:
    return summarize(run_load(spec, rules))[model].mean_ms / 1e3


def test_poisson_at_half_load_queues_as_md1_by_tritons_count(server: RunningServer) -> None:
    """M/D/1 at ρ ≈ 0.5: mean wait in the queue = ρS / (2(1−ρ)), refereed by Triton's own counters.

    The queue wait and the service time S (compute input + infer + output) per request come from Triton's
    /metrics, scraped every 2 s while Poisson arrivals run; ρ = the arrival rate Triton counted × S. So
    the client's own overheads cannot enter: were the generator's arrivals smoothed (sent on a grid, or
    held back), the queue would be shorter (a D/D/1 queue never waits). Queue waits are correlated from
    one request to the next, so the error of their mean comes from the 2 s batch means. Judging the
    client's latency minus an earlier look alone instead swung 0.73-1.57 × theory from host to host.
    """
    model, url = _name(server, "10"), server.endpoints.http_url
    saturated = LoadSpec(url=url, tenants=(model,), protocol="http", concurrency=2)
    service_s = 1 / summarize(run_load(saturated, TrialRules.fixed(4, 1)))[model].throughput_rps
    spec = LoadSpec(
        url=url,
        tenants=(model,),
        mode="open",
        protocol="http",
        seed=7,
        rates=(TenantRate(model, 0.5 / service_s, "poisson"),),
    )
    snapshots = [scrape(server.endpoints.metrics_url)]
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(2.0):
            snapshots.append(scrape(server.endpoints.metrics_url))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        run_load(spec, TrialRules.fixed(40.0, 1.0))
    finally:
        stop.set()
        poller.join()
    snapshots.append(scrape(server.endpoints.metrics_url))
    spans = [
        (model_breakdown(model, a.models[model], b.models[model]), (b.t_ns - a.t_ns) / 1e9)
        for a, b in itertools.pairwise(snapshots)
    ]
    busy = [(span, seconds) for span, seconds in spans if span.requests >= 30]
    requests = sum(span.requests for span, _ in busy)
    compute_s = sum(
        span.requests * (span.compute_input_us + span.compute_infer_us + span.compute_output_us) / 1e6
        for span, _ in busy
        if span.compute_input_us is not None
        and span.compute_infer_us is not None
        and span.compute_output_us is not None
    )
    rho = compute_s / sum(seconds for _, seconds in busy)  # the share of time the one instance was busy
    s = compute_s / requests
    expected_s = rho * s / (2 * (1 - rho))
    waits = [span.queue_us / 1e6 for span, _ in busy if span.queue_us is not None]
    measured_s = sum(span.requests * span.queue_us / 1e6 for span, _ in busy if span.queue_us) / requests
    error_s = float(np.std(waits, ddof=1) / np.sqrt(len(waits)))
    ratio, error = measured_s / expected_s, error_s / expected_s
    assert 0.4 < rho < 0.6 and len(waits) >= 15 and error < 0.15, (rho, len(waits), error)
    assert abs(ratio - 1) <= max(0.10, 3 * error), (s, rho, ratio, error)


def test_overload_is_invalid_and_latency_grows_with_trial_length(server: RunningServer) -> None:
    model, url = _name(server, "20"), server.endpoints.http_url
    capacity_rps = 1 / 0.020
    spec = LoadSpec(
        url=url,
        tenants=(model,),
        mode="open",
        protocol="http",
        rates=(TenantRate(model, 1.5 * capacity_rps, "constant"),),
    )
    medians = []
    for seconds in (1.5, 6.0):  # the backlog (and so the median) keeps growing: 4x the length, ~4x the median
        records = run_load(spec, TrialRules.fixed(seconds, 0.5))
        status, reasons = verdict(records, TrialRules.fixed(seconds, 0.5))
        assert status == "invalid" and {r.kind for r in reasons} & {Why.OVERLOADED, Why.QUEUE_GROWING}, (
            reasons
        )
        medians.append(summarize(records)[model].p50_ms)
    assert medians[1] > 1.8 * medians[0], medians  # the queue keeps growing: no steady state exists


def test_in_flight_cap_counts_late_sends_and_shows_the_gap(server: RunningServer) -> None:
    model, url = _name(server, "20"), server.endpoints.http_url
    spec = LoadSpec(
        url=url,
        tenants=(model,),
        mode="open",
        protocol="http",
        max_in_flight=1,
        rates=(TenantRate(model, 75.0, "constant"),),
    )
    rules = TrialRules.fixed(3.0, 0.5)
    records = run_load(spec, rules)
    summary = summarize(records, rules.late_threshold_ms)[model]
    status, reasons = verdict(records, rules)
    assert summary.late_fraction > 0.5
    # From the actual send it looks like ~20 ms; from the intended time the backlog shows.
    assert summary.sent_p50_ms < 40 < summary.p50_ms
    assert status == "invalid" and Why.GENERATOR_BEHIND in {r.kind for r in reasons}, reasons


def test_workers_mix_and_trace(server: RunningServer, tmp_path: Path) -> None:
    slow, fast = _name(server, "200"), _name(server, "10")
    url = server.endpoints.http_url
    closed = LoadSpec(url=url, tenants=(slow,), concurrency=4, protocol="http", workers=2)
    merged_records = run_load(closed, TrialRules.fixed(8.0, 1.0))
    merged = summarize(merged_records)
    assert merged_records.workers == 2 and merged_records.loadgen_cpu_ns > 0
    assert merged[slow].throughput_rps == pytest.approx(20.0, rel=0.05)

    mix = LoadSpec(
        url=url,
        tenants=(slow, fast),
        mode="open",
        protocol="http",
        workers=2,
        rates=(TenantRate(slow, 5.0), TenantRate(fast, 20.0)),
    )
    summaries = summarize(run_load(mix, TrialRules.fixed(6.0, 1.0)), offered_rps=mix.offered_rps())
    assert summaries[slow].requests > 10 and summaries[fast].requests > 60
    assert summaries[ALL].offered_rps == 25.0

    trace = tuple(run_trace_arrivals(slow, fast))
    replay = LoadSpec(url=url, tenants=(slow, fast), mode="trace", trace=trace, protocol="http")
    records = run_load(replay, TrialRules.fixed(2.0, 0.0))
    assert sorted((r.tenant, r.intended_ns - records.start_ns) for r in records.records) == sorted(
        (a.tenant, a.t_ns) for a in trace
    )


def run_trace_arrivals(slow: str, fast: str) -> list:  # type: ignore[type-arg]
    from perseus.loadgen import Arrival

    return [Arrival(i * 40_000_000, fast if i % 3 else slow) for i in range(40)]
