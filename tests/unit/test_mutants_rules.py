"""The trial rules at their edges, each value worked by hand: the comparisons, constants and reason figures
that mutation testing (benchmarks/mutants.py, docs/mutants.md) found no other unit test pinned."""

import pytest

from perseus.core.errors import ConfigError
from perseus.core.reasons import Why
from perseus.core.records import Sender
from perseus.loadgen import RequestRecord, TrialRecords, TrialRules, verdict
from perseus.loadgen.rules import (
    WindowStat,
    is_stable,
    late_sends,
    latency_measure,
    should_stop,
    stats_percentile,
    window_stats,
)

MS = 1_000_000
S = 1000 * MS

# Fixed 1 s windows, K = 3, judged on the mean: every check below isolates one rule.
RULES = TrialRules(
    warmup_s=0,
    min_duration_s=3,
    max_duration_s=3,
    window_s=1.0,
    min_window_requests=0,
    stability_latency="mean",
)


def _ok(intended_ns: int, latency_ns: int, late_ns: int = 0) -> RequestRecord:
    return RequestRecord("m", intended_ns, intended_ns + late_ns, intended_ns + latency_ns, True)


def _steady(per_s: int, seconds: int, latency_ms: int = 5) -> list[RequestRecord]:
    step = S // per_s
    return [_ok(i * step, latency_ms * MS) for i in range(per_s * seconds)]


def _trial(records: list[RequestRecord], seconds: int = 3, **kw: object) -> TrialRecords:
    return TrialRecords(0, 0, seconds * S, records, measure_window_s=1.0, **kw)  # type: ignore[arg-type]


def _kinds(trial: TrialRecords, rules: TrialRules = RULES) -> set[Why]:
    return {r.kind for r in verdict(trial, rules)[1]}


def test_window_stats_count_edges_rates_and_means() -> None:
    start = 10 * S  # windows from 10 s: a window's index is measured from its start, not from 0
    records = [
        _ok(start - 4 * MS, 4 * MS),  # done exactly at the start: the first window's
        _ok(start + 100 * MS, 6 * MS),
        RequestRecord("m", start + 200 * MS, start + 200 * MS, start + 210 * MS, False),  # failed: left out
        _ok(start - 50 * MS, 10 * MS),  # done before the start: no window's
        _ok(start + 600 * MS, 8 * MS),  # the second 0.5 s window
    ]
    stats = window_stats(records, start, 0.5, start + 1000 * MS)
    assert [w.completed for w in stats] == [2, 1]
    assert [w.throughput_rps for w in stats] == [4.0, 2.0]  # 2 / 0.5 s, 1 / 0.5 s
    assert stats[0].mean_ms == 5.0  # (4 + 6) / 2 ms
    assert stats[1].mean_ms == 8.0
    assert window_stats(records, start, 0.5, start - S) == []  # nothing has elapsed: no window


def test_window_stats_default_to_the_p95() -> None:
    # 100 latencies 1..100 ms in one window: the inverted-CDF p95 is the 95th smallest, 95 ms.
    records = [_ok(i * MS, (i + 1) * MS) for i in range(100)]
    (stat,) = window_stats(records, 0, 1.0, S)
    assert stat.tail_ms == 95.0
    assert stats_percentile(TrialRules(stability_latency="auto")) == 95.0
    assert stats_percentile(TrialRules(stability_latency="mean")) == 95.0


@pytest.mark.parametrize(("measure", "percentile"), [("p1", 1.0), ("p0.5", 0.5), ("p99.9", 99.9)])
def test_any_percentile_strictly_between_0_and_100_is_one(measure: str, percentile: float) -> None:
    assert stats_percentile(TrialRules(stability_latency=measure)) == percentile


@pytest.mark.parametrize("measure", ["p0", "p100", "p150", "95", "pX"])
def test_other_latency_measures_are_refused(measure: str) -> None:
    with pytest.raises(ConfigError, match="stability latency must be"):
        TrialRules(stability_latency=measure)


@pytest.mark.parametrize(
    "bad",
    [
        {"warmup_s": -1.0},
        {"window_s": 0.0},
        {"stable_windows": 0},
        {"min_duration_s": 0.0},
        {"tolerance": 0.0},
        {"tolerance": 1.0},
        {"tolerance": 1.5},
    ],
)
def test_each_bad_rule_alone_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        TrialRules(**bad)  # type: ignore[arg-type]


def test_fixed_rules_run_exactly_their_duration_in_k_windows() -> None:
    assert TrialRules.fixed(6.0, 1.5) == TrialRules(
        warmup_s=1.5,
        min_duration_s=6.0,
        max_duration_s=6.0,
        until_stable=False,
        window_s=2.0,  # 6 s / K = 3
        min_window_requests=0,
    )


def test_a_window_of_one_request_is_widened_too() -> None:
    # min_window_requests = 1 at 0.25 req/s needs a 4 s window (K = 3 of them fit in 30 s).
    rules = TrialRules(window_s=1.0, min_window_requests=1, max_duration_s=30)
    assert rules.effective_window_s(0.25) == 4.0


def test_windows_agree_within_the_tolerance_inclusive() -> None:
    rules = TrialRules(tolerance=0.25, min_window_requests=0, stability_latency="mean")
    # mean 100; 75 and 125 are exactly 25% off (binary-exact): they agree.
    edge = [WindowStat(10, v, 1.0, v) for v in (75.0, 125.0, 100.0)]
    assert is_stable(edge, rules)
    assert is_stable([WindowStat(10, 0.5, 1.0, 0.5)] * 3, rules)  # small positive values agree too
    assert not is_stable([WindowStat(10, 0.0, 1.0, 1.0)] * 3, rules)  # no throughput: nothing agrees
    empty = WindowStat(0, 0.0, float("nan"), float("nan"))
    assert not is_stable([WindowStat(10, 5.0, 1.0, 1.0)] * 2 + [empty], rules, open_loop=True)


def test_a_closed_loop_is_judged_on_throughput_by_default() -> None:
    # Latency agrees, throughput does not (50 against 100): unstable unless the loop is open.
    stats = [WindowStat(100, 100.0, 5.0, 5.0)] * 2 + [WindowStat(50, 50.0, 5.0, 5.0)]
    assert not is_stable(stats, RULES)
    assert is_stable(stats, RULES, open_loop=True)
    assert not should_stop(3.0, stats, TrialRules(min_duration_s=3, max_duration_s=10))


def test_a_trial_may_stop_at_exactly_its_minimum_duration() -> None:
    same = [WindowStat(100, 100.0, 5.0, 5.0)] * 3
    assert should_stop(2.0, same, TrialRules(warmup_s=0, min_duration_s=2, max_duration_s=10))


def test_a_p95_needs_exactly_its_100_samples_a_window() -> None:
    rules = TrialRules(stability_latency="p95")
    assert latency_measure([WindowStat(100, 100.0, 5.0, 5.0)] * 3, rules) == "p95"
    assert latency_measure([WindowStat(99, 99.0, 5.0, 5.0)] * 3, rules) == "mean"


def test_late_means_more_than_the_threshold() -> None:
    # threshold 2 ms = 2,000,000 ns: a send exactly that late is on time, one ns more is late.
    records = [_ok(0, MS, late_ns=2_000_000), _ok(0, MS, late_ns=2_000_001), _ok(0, MS, late_ns=1)]
    assert late_sends(records, RULES) == 1


def test_late_sends_at_exactly_the_allowed_share_are_not_behind() -> None:
    # 500 sends over 3 s, 5 of them 3 ms late: 5 / 500 = 1% exactly, not more than max_late_fraction.
    records = [_ok(i * 6 * MS, MS, late_ns=3 * MS if i < 5 else 0) for i in range(500)]
    assert Why.GENERATOR_BEHIND not in _kinds(_trial(records))
    # 6 of 1000 over 3 s (0.6%): not behind either, though 6 ≥ min_late_sends.
    records = [_ok(i * 3 * MS, MS, late_ns=3 * MS if i < 6 else 0) for i in range(1000)]
    assert Why.GENERATOR_BEHIND not in _kinds(_trial(records))


def test_requests_and_errors_at_exactly_their_limits_pass() -> None:
    # 20 completions (the minimum) over 3 s, 7/7/6 a window: not too few.
    assert Why.TOO_FEW_REQUESTS not in _kinds(_trial(_steady(7, 3)[:20]))
    (few,) = [r for r in verdict(_trial(_steady(7, 3)[:19]), RULES)[1] if r.kind == Why.TOO_FEW_REQUESTS]
    assert few.figures == {"completed": 19, "minimum": 20}
    # 2 failed of 200 = 1% exactly: not too many; 1 failed of 200 neither.
    for failed in (1, 2):
        records = [
            RequestRecord("m", i * 15 * MS, i * 15 * MS, i * 15 * MS + MS, i >= failed) for i in range(200)
        ]
        assert Why.TOO_MANY_ERRORS not in _kinds(_trial(records))


def test_each_load_actor_is_judged_on_its_own_sends() -> None:
    # Actor 1 sent 100 of 300 requests, 10 of them 3 ms late: 10% of its own (3.3% of the trial's).
    mine = [_ok(i * 30 * MS, MS, late_ns=3 * MS if i < 10 else 0) for i in range(100)]
    others = [_ok(i * 15 * MS + 7 * MS, MS) for i in range(200)]
    trial = _trial(
        mine + others,
        senders=[Sender(0, "node-a", "a", others, 0), Sender(1, "node-b", "b", mine, 0)],
    )
    behind = [r for r in verdict(trial, RULES)[1] if r.kind == Why.ACTOR_BEHIND]
    assert [r.text for r in behind] == [
        "load actor 1 on node-b fell behind: 10.0% of sends were more than 2 ms late"
    ]
    assert behind[0].figures == {
        "worker": 1,
        "node": "node-b",
        "late_fraction": 0.1,
        "late": 10,
        "threshold_ms": 2.0,
    }


def test_overload_counts_completions_inside_the_window_only() -> None:
    # 100 sent in 3 s; 95 complete inside [0, 3 s) (one exactly at 0, counted), 5 exactly at 3 s (not
    # counted): 95 = (1 − 0.05) × 100, not fewer, so not overloaded.
    records = [_ok(0, 0)] + [_ok(i * 30 * MS, MS) for i in range(1, 95)]
    records += [_ok(2990 * MS + i, 3 * S - 2990 * MS - i) for i in range(5)]
    assert Why.OVERLOADED not in _kinds(_trial(records, offered_rps=33.3), RULES)
    # One more completing at the end: 94 of 100, overloaded.
    late = [*records[:94], _ok(2000 * MS, S), *records[95:]]
    assert Why.OVERLOADED in _kinds(_trial(late, offered_rps=33.3), RULES)
    # A closed loop has no arrivals to fall behind: the same completions are no overload.
    assert Why.OVERLOADED not in _kinds(_trial(late), RULES)


def _queue(means_ms: list[float], window_s: float = 1.0) -> TrialRecords:
    """Open loop, 20 requests a window, each window's all taking its mean (so its mean is exact)."""
    width = round(window_s * S)
    records = [
        _ok(k * width + i * width // 20 - round(m * MS), round(m * MS))
        for k, m in enumerate(means_ms)
        for i in range(20)
    ]
    # Intended before the window for the first ones: every completion is inside, none overloaded.
    return TrialRecords(
        0, 0, len(means_ms) * width, records, offered_rps=20.0 / window_s, measure_window_s=window_s
    )


def _growing(means_ms: list[float], rules: TrialRules = RULES, window_s: float = 1.0) -> bool:
    return Why.QUEUE_GROWING in _kinds(_queue(means_ms, window_s), rules)


def test_a_growing_queue_at_its_edges() -> None:
    # Threshold: last > 1.1 × first, and last − first > 0.02 × (K − 1) × 1 s = 40 ms.
    assert _growing([50, 54, 100])  # rising; 100 > 55; +50 ms
    assert _growing([50, 95, 100])  # 100 > 55 though only 100 ≯ 1.1 × 95
    assert not _growing([50, 50, 100])  # not rising window after window
    assert not _growing([500, 520, 545])  # +45 ms, but 545 ≤ 1.1 × 500 = 550
    assert not _growing([100, 115, 130])  # +30 ms ≤ 40 ms
    assert _growing([100, 120, 140.02])  # +40.02 ms > 40 ms
    # Two windows judged (K = 2): 0.02 × 1 × 1 s = 20 ms.
    assert _growing([100, 125], TrialRules(**{**_fields(RULES), "stable_windows": 2}))
    # Half-second windows: 0.02 × 2 × 0.5 s = 20 ms, so +30 ms grows.
    assert _growing([100, 115, 130], window_s=0.5)


def test_a_growing_queue_at_the_tolerance_and_growth_exactly() -> None:
    rules = TrialRules(**{**_fields(RULES), "tolerance": 0.25, "queue_growth": 0.25})
    # tolerance 0.25: 1.25 × 400 = 500 exactly, not exceeded.
    assert not _growing([400, 450, 500], rules)
    # queue_growth 0.25: 0.25 × 2 × 1 s = 500 ms exactly, not exceeded.
    assert not _growing([100, 300, 600], rules)
    assert _growing([100, 300, 601], rules)


def _fields(rules: TrialRules) -> dict[str, object]:
    return {f: getattr(rules, f) for f in rules.__dataclass_fields__}


def test_reason_figures_name_what_they_rest_on() -> None:
    rules = TrialRules(**{**_fields(RULES), "min_stability_samples": 20})
    (thin,) = verdict(_trial(_steady(10, 3)), rules)[1]
    assert thin.kind == Why.WINDOW_TOO_FEW and thin.figures == {"fewest": 10, "need": 20}
    # Four windows, the last three judged: 100, 50, 100 req/s.
    records = _steady(100, 1) + [_ok(S + i * 10 * MS, 5 * MS) for i in range(100)]
    records += [_ok(2 * S + i * 20 * MS, 5 * MS) for i in range(50)]
    records += [_ok(3 * S + i * 10 * MS, 5 * MS) for i in range(100)]
    (unstable,) = [r for r in verdict(_trial(records, seconds=4), RULES)[1] if r.kind == Why.UNSTABLE]
    assert unstable.figures == {
        "tolerance": 0.1,
        "rps": [100.0, 50.0, 100.0],
        "measure": "mean",
        "latency_ms": [5.0, 5.0, 5.0],
    }
    assert unstable.text.startswith("unstable: the last 3 windows differ by more than ±10%")
    (short,) = [r for r in verdict(_trial(_steady(100, 2), seconds=2), RULES)[1] if r.kind == Why.TOO_SHORT]
    assert short.figures == {"windows": 2, "need": 3}
    growing = [r for r in verdict(_queue([50, 54, 100]), RULES)[1] if r.kind == Why.QUEUE_GROWING]
    assert growing[0].figures == {"mean_ms": [50.0, 54.0, 100.0]}
    assert growing[0].text == "overloaded: latency grows window after window (mean ms 50.0, 54.0, 100.0)"


def test_a_trial_with_no_window_at_all_is_too_short() -> None:
    trial = TrialRecords(0, 0, 0, [], measure_window_s=1.0)
    reasons = verdict(trial, RULES)[1]
    assert [r.kind for r in reasons] == [Why.TOO_FEW_REQUESTS, Why.TOO_SHORT]


def test_an_overload_names_served_sent_and_offered_rates() -> None:
    # The late case above: 94 of 100 complete inside the 3 s window: 94 / 3 served, 100 / 3 sent.
    records = [_ok(0, 0)] + [_ok(i * 30 * MS, MS) for i in range(1, 94)] + [_ok(2000 * MS, S)]
    records += [_ok(2990 * MS + i, 3 * S - 2990 * MS - i) for i in range(5)]
    (overloaded,) = [
        r for r in verdict(_trial(records, offered_rps=33.3), RULES)[1] if r.kind == Why.OVERLOADED
    ]
    assert overloaded.figures == pytest.approx(
        {"served_rps": 94 / 3, "sent_rps": 100 / 3, "offered_rps": 33.3}
    )
    assert overloaded.text == "overloaded: served 31.3 req/s of 33.3 sent (33.3 offered)"
