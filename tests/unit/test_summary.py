"""Summaries are pure functions of the records: windows, percentiles, lateness, errors, SLA and QoS."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.loadgen import ALL, RequestRecord, TrialRecords, parse_sla, summarize

MS = 1_000_000


def _trial(
    latencies_ms: list[float], window: tuple[int, int] = (1000, 2000), late_ms: float = 0.0
) -> TrialRecords:
    start, end = window[0] * MS, window[1] * MS
    records = []
    for i, lat in enumerate(latencies_ms):
        intended = start + i * MS
        send = intended + round(late_ms * MS)
        records.append(RequestRecord("m", intended, send, intended + round(lat * MS), True))
    return TrialRecords(start_ns=0, window_start_ns=start, window_end_ns=end, records=records)


def test_percentiles_within_hdr_precision() -> None:
    summary = summarize(_trial([float(v) for v in range(1, 101)]))["m"]
    for got, want in (
        (summary.p50_ms, 50),
        (summary.p95_ms, 95),
        (summary.p99_ms, 99),
        (summary.max_ms, 100),
    ):
        assert got == pytest.approx(want, rel=1e-3)
    assert summary.requests == 100 and summary.errors == 0


def test_warmup_and_late_intended_times_are_excluded() -> None:
    trial = _trial([1.0] * 10)
    trial.records.append(RequestRecord("m", 10 * MS, 10 * MS, 11 * MS, True))  # warm-up
    trial.records.append(RequestRecord("m", 2500 * MS, 2500 * MS, 2501 * MS, True))  # after the window
    assert summarize(trial)["m"].requests == 10


def test_throughput_counts_completions_inside_window() -> None:
    assert summarize(_trial([1.0] * 50))[ALL].throughput_rps == 50.0


def test_latency_counts_from_intended_time_and_lateness_is_reported() -> None:
    # Sent 5 ms after intended, answered 1 ms after the send: 6 ms intended latency, 1 ms from send.
    trial = _trial([6.0] * 20, late_ms=5.0)
    summary = summarize(trial, late_threshold_ms=2.0)["m"]
    assert summary.p50_ms == pytest.approx(6.0, rel=1e-3)
    assert summary.sent_p50_ms == pytest.approx(1.0, rel=1e-3)
    assert summary.late_fraction == 1.0
    assert summary.lateness_p99_ms == pytest.approx(5.0, rel=1e-3)


def test_errors_by_kind() -> None:
    trial = _trial([2.0] * 4)
    trial.records.append(RequestRecord("m", 1100 * MS, 1100 * MS, 1101 * MS, False, "UNAVAILABLE"))
    trial.records.append(RequestRecord("m", 1200 * MS, 1200 * MS, 1201 * MS, False, "timeout"))
    summary = summarize(trial)["m"]
    assert (summary.requests, summary.errors) == (4, 2)
    assert summary.errors_by_kind == {"UNAVAILABLE": 1, "timeout": 1}


def test_sla_and_qos_satisfaction() -> None:
    trial = _trial([float(v) for v in range(1, 101)])  # 1 … 100 ms
    summary = summarize(trial, sla=parse_sla("p95=90ms"))["m"]
    assert summary.sla_met is False
    assert summary.qos_satisfaction == pytest.approx(0.90)
    assert summarize(trial, sla=parse_sla("p90<=95ms"))["m"].sla_met is True


def test_failed_requests_count_against_qos() -> None:
    trial = _trial([1.0] * 9)
    trial.records.append(RequestRecord("m", 1500 * MS, 1500 * MS, 1501 * MS, False, "x"))
    assert summarize(trial, sla=parse_sla("p99=10ms"))["m"].qos_satisfaction == pytest.approx(0.9)


def test_per_tenant_and_overall() -> None:
    trial = _trial([1.0] * 4)
    trial.records.extend(
        RequestRecord("n", 1500 * MS + i, 1500 * MS + i, 1505 * MS + i, True) for i in range(6)
    )
    summaries = summarize(trial, offered_rps={"m": 4.0, "n": 6.0})
    assert summaries["m"].requests == 4 and summaries["n"].requests == 6 and summaries[ALL].requests == 10
    assert summaries[ALL].offered_rps == 10.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e4), min_size=1, max_size=300))
def test_percentiles_ordered_and_close_to_observed(latencies: list[float]) -> None:
    summary = summarize(_trial(latencies, window=(1000, 1000 + 10_000)))["m"]
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= summary.p99_9_ms <= summary.max_ms
    assert summary.max_ms == pytest.approx(max(max(latencies), 0.001), rel=1e-3, abs=1e-3)
