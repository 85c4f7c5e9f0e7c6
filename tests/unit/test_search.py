"""Peak search against fake probes with a known feasibility threshold: bisection and the paper's ramp."""

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.experiment import SearchSettings
from perseus.core.errors import SlaNotMetError
from perseus.loadgen import TrialRules
from perseus.orchestrate.probe import expected_for, floor_of
from perseus.orchestrate.search import Step, bisect, find_peak, ramp


def threshold_probe(limit: float, calls: list[float]) -> Callable[[float], Step]:
    def probe(rate: float) -> Step:
        calls.append(rate)
        ok = rate <= limit
        return Step(rate, ok, min(rate, limit), "ok" if ok else f"p95 over at {rate}")

    return probe


@settings(max_examples=200, deadline=None)
@given(
    limit=st.floats(0.5, 5000),
    start=st.floats(0.1, 10000),
    tolerance=st.sampled_from([0.01, 0.03, 0.1]),
)
def test_bisect_brackets_the_threshold_within_tolerance(limit: float, start: float, tolerance: float) -> None:
    calls: list[float] = []
    probe = threshold_probe(limit, calls)
    if start / 4**6 > limit:  # so far above that shrinking runs out of probes
        return
    found = bisect(probe, start, SearchSettings(tolerance=tolerance, max_probes=60), "m")
    assert found.peak_rps <= limit  # λ is always a rate measured feasible
    assert found.peak_rps >= limit / (1 + tolerance) - 1e-9
    assert found.peak_rps == max(s.rate_rps for s in found.steps if s.feasible)
    assert len(calls) == len(found.steps) <= 60


def test_bisect_unreachable_sla_is_one_clear_error() -> None:
    with pytest.raises(SlaNotMetError, match=r"m: not feasible even at 0\.977 req/s \(p95 over"):
        bisect(threshold_probe(0.0, []), 1000.0, SearchSettings(max_probes=6, opening="wide"), "m")
    with pytest.raises(SlaNotMetError, match=r"m: not feasible even at 2\.84 req/s \(p95 over"):
        bisect(threshold_probe(0.0, []), 1000.0, SearchSettings(max_probes=6), "m")  # 1000 / 1.375 / 4**4


def test_the_near_opening_steps_to_just_above_the_capacity_its_start_was_read_from() -> None:
    """A start at 0.8 of a closed-loop look at capacity (100 req/s here: start 80): `near` probes 110
    next, not 160 (certainly overloaded: an open-loop rate above capacity), and 5 probes end on a bracket
    4.7% wide, not 12.5%; from an infeasible start it steps to 58.2, not 20. After the first step, ×2 / ÷4."""
    calls: list[float] = []
    near = bisect(threshold_probe(92.0, calls), 80.0, SearchSettings(tolerance=0.01, max_probes=5), "m")
    assert calls == pytest.approx([80.0, 110.0, 95.0, 87.5, 91.25])
    highs = [c for c in calls if c > near.peak_rps]
    assert near.peak_rps == 91.25 and (min(highs) - near.peak_rps) / near.peak_rps < 0.047
    calls.clear()
    wide = bisect(
        threshold_probe(92.0, calls), 80.0, SearchSettings(tolerance=0.01, max_probes=5, opening="wide"), "m"
    )
    assert calls == [80.0, 160.0, 120.0, 100.0, 90.0] and wide.peak_rps == 90.0  # bracket 90–100: 11%
    calls.clear()
    bisect(threshold_probe(50.0, calls), 80.0, SearchSettings(tolerance=0.01, max_probes=4), "m")
    assert calls == pytest.approx(
        [80.0, 80.0 / 1.375, 80.0 / 1.375 / 4, (80.0 / 1.375 + 80.0 / 1.375 / 4) / 2]
    )
    calls.clear()
    bisect(threshold_probe(500.0, calls), 80.0, SearchSettings(tolerance=0.01, max_probes=4), "m")
    assert calls == pytest.approx([80.0, 110.0, 220.0, 440.0])  # capacity read low: ×2 after the first step


def test_bisect_never_shrinks_below_the_floor_a_trial_can_judge() -> None:
    # The first probe failed (here: 30 is over the limit); ÷4 would give 7.5, which a trial cannot judge.
    calls: list[float] = []
    wide = SearchSettings(tolerance=0.1, opening="wide")
    found = bisect(threshold_probe(25.0, calls), 30.0, wide, "m", floor_rps=13.0)
    assert calls[:2] == [30.0, 13.0] and min(calls) == 13.0
    assert 25.0 / 1.1 <= found.peak_rps <= 25.0


def test_bisect_fails_at_the_floor_with_its_reason() -> None:
    calls: list[float] = []
    with pytest.raises(SlaNotMetError, match=r"m: not feasible even at 13 req/s \(p95 over at 13"):
        bisect(threshold_probe(5.0, calls), 100.0, SearchSettings(max_probes=20), "m", floor_rps=13.0)
    assert calls == pytest.approx([100.0, 100.0 / 1.375, 100.0 / 1.375 / 4, 13.0])
    calls.clear()
    with pytest.raises(SlaNotMetError, match=r"at 13 req/s"):  # a start under the floor begins there
        bisect(threshold_probe(5.0, calls), 10.0, SearchSettings(), "m", floor_rps=13.0)
    assert calls == [13.0]
    calls.clear()
    found = bisect(threshold_probe(50.0, calls), 10.0, SearchSettings(tolerance=0.1), "m", floor_rps=13.0)
    assert calls[:2] == [13.0, 13.0 * 1.375] and min(calls) == 13.0 and 50.0 / 1.1 <= found.peak_rps <= 50.0


def test_ramp_stops_after_patience_and_keeps_the_best() -> None:
    calls: list[float] = []
    found = ramp(threshold_probe(37.0, calls), 10.0, SearchSettings(method="ramp", patience=3), "m")
    assert found.peak_rps == 30.0  # 10, 20, 30 feasible; 40, 50, 60 not → stop
    assert calls == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_find_peak_uses_settings() -> None:
    calls: list[float] = []
    found = find_peak(
        threshold_probe(100.0, calls), 1.0, SearchSettings(method="ramp", step_rps=25.0, patience=1), "m"
    )
    assert found.peak_rps == 100.0 and calls == [25.0, 50.0, 75.0, 100.0, 125.0]
    calls.clear()
    find_peak(threshold_probe(100.0, calls), 1.0, SearchSettings(start_rps=80.0, tolerance=0.1), "m")
    assert calls[0] == 80.0


def test_the_floor_is_where_the_rarest_tenant_has_enough_requests() -> None:
    """Below the floor a trial cannot judge every tenant's p95 (100 latencies in the longest trial; 122
    expected, so that a Poisson count falls short only ~2% of the time)."""
    rules = TrialRules(max_duration_s=15, min_tenant_requests=100)
    assert expected_for(100) == pytest.approx((1 + math.sqrt(101)) ** 2)  # 122.1: mean − 2 sd = 100
    assert expected_for(100) - 2 * math.sqrt(expected_for(100)) == pytest.approx(100)
    expect = expected_for(100)
    assert floor_of(rules, lambda x: {"a": 0.2 * x, "b": 0.8 * x}) == pytest.approx(expect / 15 / 0.2)
    assert floor_of(rules, lambda x: {"a": 3.0, "b": x}) == pytest.approx(expect / 15)  # a held, b searched
    assert floor_of(rules, lambda x: {"a": 50.0, "b": x}) == pytest.approx(expect / 15)  # b still needs them
    whole = floor_of(TrialRules(max_duration_s=10), lambda x: {"a": x})  # 20 requests in all
    assert whole == pytest.approx(expected_for(20) / 10)


def test_a_poisson_count_at_the_floor_rarely_falls_short() -> None:
    """What the floor's margin buys, by the exact Poisson tail: at the expected count the floor asks for,
    a trial lacks the latencies it needs ~2% of the time (a rate where only the need is expected: half)."""

    def short(mean: float, need: int) -> float:  # P(Poisson(mean) < need)
        term, total = math.exp(-mean), 0.0
        for k in range(need):
            total += term
            term *= mean / (k + 1)
        return total

    for need in (20, 100, 500):
        assert 0.01 < short(expected_for(need), need) < 0.035
        assert short(float(need), need) > 0.45
