"""Server-side breakdown arithmetic between two /metrics snapshots, by hand-computed cases."""

import math

import pytest

from perseus.telemetry import ModelCounters, TritonMetrics, breakdown
from perseus.telemetry.breakdown import model_breakdown


def _snap(**models: ModelCounters) -> TritonMetrics:
    return TritonMetrics(t_ns=0, models=models)


def test_deltas_and_means_per_request() -> None:
    before = ModelCounters(
        request_success=100,
        request_failure=1,
        inference_count=100,
        exec_count=40,
        request_duration_us=50_000,
        queue_duration_us=10_000,
        compute_input_duration_us=1_000,
        compute_infer_duration_us=20_000,
        compute_output_duration_us=2_000,
    )
    after = ModelCounters(
        request_success=140,  # +40 requests
        request_failure=4,  # +3
        inference_count=180,  # +80 inferences (batch-2 requests)
        exec_count=50,  # +10 executions → 8 per batch
        request_duration_us=70_000,  # +20 000 → 500 µs each
        queue_duration_us=14_000,  # +4 000 → 100
        compute_input_duration_us=1_400,  # +400 → 10
        compute_infer_duration_us=32_000,  # +12 000 → 300
        compute_output_duration_us=2_800,  # +800 → 20
        pending_request_count=3,
    )
    [(model, part)] = breakdown(_snap(m=before), _snap(m=after)).items()
    assert model == "m"
    assert (part.requests, part.failures, part.inferences, part.executions) == (40, 3, 80, 10)
    assert part.avg_batch_size == 8.0
    assert (part.request_us, part.queue_us) == (500.0, 100.0)
    assert (part.compute_input_us, part.compute_infer_us, part.compute_output_us) == (10.0, 300.0, 20.0)
    assert part.as_dict()["queue_us"] == 100.0 and part.as_dict()["model"] == "m"


def test_nothing_happened_gives_none_not_a_division_error() -> None:
    same = ModelCounters(request_success=5, inference_count=5, exec_count=5, queue_duration_us=10)
    part = model_breakdown("m", same, same)
    assert (part.requests, part.executions) == (0, 0)
    assert part.avg_batch_size is None
    assert part.request_us is part.queue_us is part.compute_infer_us is None


def test_failures_only() -> None:
    part = model_breakdown("m", ModelCounters(), ModelCounters(request_failure=7, request_duration_us=70))
    assert (part.requests, part.failures) == (0, 7)
    assert part.request_us is None  # durations are per successful request: none succeeded


def test_model_loaded_between_snapshots_counts_from_zero_and_unloaded_is_dropped() -> None:
    new = ModelCounters(request_success=4, inference_count=4, exec_count=2, queue_duration_us=40)
    by_model = breakdown(_snap(old=ModelCounters(request_success=1)), _snap(new=new))
    assert list(by_model) == ["new"]
    part = by_model["new"]
    assert (part.requests, part.avg_batch_size, part.queue_us) == (4, 2.0, 10.0)


def test_counter_that_went_down_means_a_restart_and_counts_from_zero() -> None:
    before = ModelCounters(request_success=1000, inference_count=1000, exec_count=1000, queue_duration_us=9e6)
    after = ModelCounters(request_success=10, inference_count=10, exec_count=5, queue_duration_us=200)
    part = model_breakdown("m", before, after)
    assert (part.requests, part.avg_batch_size, part.queue_us) == (10, 2.0, 20.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_counters_give_none(bad: float) -> None:
    part = model_breakdown(
        "m",
        ModelCounters(request_success=0, exec_count=0, queue_duration_us=0),
        ModelCounters(request_success=10, inference_count=bad, exec_count=5, queue_duration_us=bad),
    )
    assert part.requests == 10 and part.inferences == 0
    assert part.avg_batch_size is None
    assert part.queue_us is None
