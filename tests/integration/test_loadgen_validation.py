"""The load generator against queueing ground truth on the real server (synthetic-sleep: known S)."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.loadgen import ALL, LoadSpec, TenantRate, TrialRules, run_load, summarize, verdict
from perseus.serving import RunningServer, embedded_server

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
def test_closed_loop_throughput_is_c_over_s_within_3_percent(server: RunningServer, protocol: str) -> None:
    model = _name(server, "200")
    url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
    spec = LoadSpec(url=url, tenants=(model,), concurrency=4, protocol=protocol)  # type: ignore[arg-type]
    # 25 s: each user completes ⌊25/S⌋ or ⌈25/S⌉ requests, so counting alone is exact to ±4/500.
    records = run_load(spec, TrialRules.fixed(25.0, 1.0))
    summary = summarize(records)[model]
    assert summary.errors == 0
    assert summary.throughput_rps == pytest.approx(4 / 0.200, rel=0.03), summary


def _mean_latency_s(spec: LoadSpec, rules: TrialRules, model: str) -> float:
    return summarize(run_load(spec, rules))[model].mean_ms / 1e3


def test_poisson_at_half_load_matches_md1_waiting_time(server: RunningServer) -> None:
    """M/D/1 at ρ = 0.5: mean wait = ρS / (2(1−ρ)), within the measurement's own sampling error.

    S is what one instance really takes per request, 1 / throughput when it is never idle (closed loop,
    c = 2 on one instance); it includes Triton's per-request overhead besides the 10 ms sleep. The
    small jitter of that service time is allowed for by Pollaczek–Khinchine (the M/G/1 form).
    The wait is the mean latency under Poisson load (from each actual send: the generator's own lateness,
    ~0.2 ms on average here, is not queueing in the server and was 7% of this wait) minus the mean
    latency alone (c = 1), in paired rounds (alone, then Poisson, each round its own arrivals).
    Queue waits are correlated from one request to the next, so the error of their mean is estimated
    from batch means (2 s batches, 30 of them): at ~50 req/s three 14 s runs' mean wait had 13% standard
    error on a busy host, and a fixed ±15% bound on the median of three runs failed about one time in five.
    """
    model, url = _name(server, "10"), server.endpoints.http_url
    saturated = LoadSpec(url=url, tenants=(model,), protocol="http", concurrency=2)
    service_s = 1 / summarize(run_load(saturated, TrialRules.fixed(6, 1)))[model].throughput_rps
    rho = 0.5
    batches, alone_all = [], []
    for seed in (7, 8, 9):
        alone = run_load(LoadSpec(url=url, tenants=(model,), protocol="http"), TrialRules.fixed(3, 0.5))
        alone_ms = np.array([r.latency_ns / 1e6 for r in alone.measured() if r.ok])
        spec = LoadSpec(
            url=url,
            tenants=(model,),
            mode="open",
            protocol="http",
            seed=seed,
            rates=(TenantRate(model, rho / service_s, "poisson"),),
        )
        trial = run_load(spec, TrialRules.fixed(20.0, 1.0))
        # From the actual send: a send the host delayed reaches the server late, it does not queue there.
        sent = [r for r in trial.measured() if r.ok]
        batch = np.array([(r.intended_ns - trial.window_start_ns) // 2_000_000_000 for r in sent])
        waits_s = np.array([r.service_ns / 1e9 for r in sent]) - alone_ms.mean() / 1e3
        batches += [float(waits_s[batch == b].mean()) for b in np.unique(batch) if (batch == b).sum() >= 20]
        alone_all.append(alone_ms)
    pooled = np.concatenate(alone_all)
    cv2 = float(pooled.var() / pooled.mean() ** 2)
    expected_s = rho * service_s * (1 + cv2) / (2 * (1 - rho))
    assert cv2 < 0.1  # the server is close to deterministic, so this is M/D/1
    measured_s = float(np.mean(batches))
    error_s = float(np.std(batches, ddof=1) / np.sqrt(len(batches)))
    ratio, error = measured_s / expected_s, error_s / expected_s
    assert len(batches) >= 27 and error < 0.15, (len(batches), error)  # the check below has teeth
    assert abs(ratio - 1) <= max(0.10, 3 * error), (service_s, cv2, ratio, error)


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
    for seconds in (2.0, 8.0):  # the backlog (and so the median) keeps growing: 4x the length, ~4x the median
        records = run_load(spec, TrialRules.fixed(seconds, 0.5))
        status, reasons = verdict(records, TrialRules.fixed(seconds, 0.5))
        assert status == "invalid" and any(r.startswith("overloaded") for r in reasons), reasons
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
    assert status == "invalid" and any("generator fell behind" in r for r in reasons), reasons


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
