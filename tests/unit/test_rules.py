"""Trial rules: windows, stability, and every INVALID reason."""

from dataclasses import replace

import pytest

from perseus.core.errors import ConfigError
from perseus.core.reasons import Why
from perseus.core.sla import samples_for
from perseus.loadgen import RequestRecord, TrialRecords, TrialRules, parse_sla, verdict
from perseus.loadgen.control import Controller
from perseus.loadgen.rules import WindowStat, is_stable, should_stop, window_stats

MS = 1_000_000


def _steady(rate: int, seconds: int, latency_ms: float = 5.0, start_ms: int = 0) -> list[RequestRecord]:
    step = 1000 // rate
    return [
        RequestRecord(
            "m",
            (start_ms + i * step) * MS,
            (start_ms + i * step) * MS,
            (start_ms + i * step) * MS + round(latency_ms * MS),
            True,
        )
        for i in range(rate * seconds)
    ]


def _trial(records: list[RequestRecord], seconds: int = 3, offered: float | None = None) -> TrialRecords:
    return TrialRecords(0, 0, seconds * 1000 * MS, records, offered_rps=offered, measure_window_s=1.0)


RULES = TrialRules(warmup_s=0, min_duration_s=3, max_duration_s=3, window_s=1.0, min_window_requests=0)


def test_window_stats_by_completion_time() -> None:
    stats = window_stats(_steady(100, 3), 0, 1.0, 3000 * MS)
    assert [w.completed for w in stats] == [100, 100, 100]
    assert stats[0].tail_ms == pytest.approx(5.0)


def test_steady_load_is_valid() -> None:
    assert verdict(_trial(_steady(100, 4)), RULES) == ("valid", [])


def test_unstable_is_invalid_with_the_window_values() -> None:
    records = _steady(100, 1) + _steady(50, 1, start_ms=1000) + _steady(100, 1, start_ms=2000)
    status, reasons = verdict(_trial(records), RULES)
    assert status == "invalid" and any(r.kind == Why.UNSTABLE and "req/s" in r.text for r in reasons)


def test_errors_late_sends_and_overload_are_reasons() -> None:
    records = _steady(100, 4)
    records += [RequestRecord("m", 500 * MS + i, 500 * MS + i, 501 * MS, False, "x") for i in range(10)]
    records += [RequestRecord("m", 600 * MS + i, 650 * MS + i, 660 * MS, True) for i in range(10)]
    status, reasons = verdict(_trial(records, offered=100.0), RULES)
    assert status == "invalid"
    assert {Why.TOO_MANY_ERRORS, Why.GENERATOR_BEHIND} <= {r.kind for r in reasons}
    assert Why.OVERLOADED not in {r.kind for r in reasons}
    (errors,) = [r for r in reasons if r.kind == Why.TOO_MANY_ERRORS]
    assert errors.text == "too many errors: 10 of 320 requests failed"
    assert errors.figures == {"failed": 10, "requests": 320}


def test_overload_is_completions_falling_behind_arrivals() -> None:
    # 100 req/s arrive for 3 s but the server completes one every 20 ms: half of them in the window.
    records = [RequestRecord("m", i * 10 * MS, i * 10 * MS, i * 20 * MS + 5 * MS, True) for i in range(300)]
    status, reasons = verdict(_trial(records, offered=100.0), RULES)
    (overloaded,) = [r for r in reasons if r.kind == Why.OVERLOADED]
    assert status == "invalid" and overloaded.text.startswith("overloaded: served 50.0 req/s of 100.0 sent")
    assert overloaded.figures["served_rps"] == pytest.approx(50.0)
    # A Poisson window that got fewer arrivals than the nominal rate is not overload: all were served.
    kinds = {r.kind for r in verdict(_trial(_steady(100, 3), offered=130.0), RULES)[1]}
    assert Why.OVERLOADED not in kinds


def test_too_few_requests() -> None:
    status, reasons = verdict(_trial(_steady(2, 3)), RULES)
    assert status == "invalid" and Why.TOO_FEW_REQUESTS in {r.kind for r in reasons}


def test_stability_needs_k_agreeing_windows() -> None:
    same = [WindowStat(100, 100.0, 5.0)] * 3
    assert is_stable(same, RULES)
    assert not is_stable(same[:2], RULES)
    assert not is_stable([*same[:2], WindowStat(100, 100.0, 6.0)], RULES)
    assert is_stable([*same[:2], WindowStat(105, 105.0, 5.2)], RULES)


def test_should_stop() -> None:
    rules = TrialRules(warmup_s=0, min_duration_s=2, max_duration_s=10)
    same = [WindowStat(100, 100.0, 5.0)] * 3
    assert not should_stop(1.0, same, rules)
    assert should_stop(3.0, same, rules)
    assert should_stop(10.0, [], rules)
    assert not should_stop(5.0, same, TrialRules.fixed(10.0, 0.0))


def test_effective_window_holds_enough_requests() -> None:
    rules = TrialRules(window_s=1.0, min_window_requests=100, max_duration_s=30)
    assert rules.effective_window_s(1000.0) == 1.0
    assert rules.effective_window_s(20.0) == 5.0
    assert rules.effective_window_s(1.0) == 10.0  # capped so K windows fit in the maximum duration


def test_bad_rules() -> None:
    with pytest.raises(ConfigError):
        TrialRules(min_duration_s=10, max_duration_s=5)


@pytest.mark.parametrize(
    ("text", "percentile", "ms"), [("p95=750ms", 95, 750), ("p99<=20", 99, 20), ("p99.9=1s", 99.9, 1000)]
)
def test_parse_sla(text: str, percentile: float, ms: float) -> None:
    target = parse_sla(text)
    assert (target.percentile, target.threshold_ns) == (percentile, ms * MS)


@pytest.mark.parametrize(
    ("text", "least"), [("p95=100ms", 100), ("p99=5ms", 500), ("p99.9=1s", 5000), ("p50=1s", 10)]
)
def test_a_percentile_needs_five_samples_above_it(text: str, least: int) -> None:
    """The one rule (core.sla.samples_for) of an experiment's SLA and of bench's stability percentile;
    runs stored before it keep theirs (1 above: 20 for a p95)."""
    target = parse_sla(text)
    assert target.min_samples == least == samples_for(target.percentile)
    assert replace(target, tail=1).min_samples == least // 5
    assert parse_sla(target.label) == target  # the stored label reads back


def test_controller_waits_for_each_tenants_requests() -> None:
    """A trial that is stable overall goes on (to its maximum) until the rarest tenant has enough."""
    rules = TrialRules(warmup_s=0, min_duration_s=1, max_duration_s=10, window_s=1, min_window_requests=0)
    control = Controller(replace(rules, min_tenant_requests=20), 0, open_loop=True)
    often = [RequestRecord("a", t * MS, t * MS, t * MS + 5 * MS, True) for t in range(0, 3000, 10)]
    rare = [RequestRecord("b", t * MS, t * MS, t * MS + 5 * MS, True) for t in range(0, 3000, 200)]
    assert control.check(often + rare, 3000 * MS) is None  # b has 15 of 20
    assert Controller(rules, 0, open_loop=True).check(often + rare, 3000 * MS) is not None
    more = [RequestRecord("b", t * MS, t * MS, t * MS + 5 * MS, True) for t in range(3000, 4000, 200)]
    assert control.check(often + rare + more, 4000 * MS) is not None
    assert control.check(often + rare, 10_000 * MS) is not None  # the maximum duration ends it anyway


@pytest.mark.parametrize("text", ["95=750ms", "p0=1ms", "p100=1ms", "p95=fast", "p95=0ms"])
def test_bad_sla(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_sla(text)


def test_small_windows_judge_stability_on_the_mean() -> None:
    """With fewer than min_window_requests per window, p95 is one of a window's few slowest samples."""
    records = []
    for second, slow_ms in ((0, 9), (1, 14), (2, 9)):  # 3 slow of 40 per window: they are its p95
        start = second * 1000
        for i in range(40):
            sent = (start + 25 * i) * MS
            records.append(RequestRecord("m", sent, sent, sent + (slow_ms if i >= 37 else 5) * MS, True))
    small = TrialRules(warmup_s=0, min_duration_s=3, max_duration_s=3, window_s=1.0, min_window_requests=100)
    assert verdict(_trial(records), small) == ("valid", [])  # means 5.3, 5.7, 5.3 ms agree
    large = TrialRules(warmup_s=0, min_duration_s=3, max_duration_s=3, window_s=1.0, min_window_requests=40)
    status, reasons = verdict(_trial(records), large)
    assert status == "invalid" and any(
        r.kind == Why.UNSTABLE and "p95 ms 9.0, 14.0, 9.0" in r.text for r in reasons
    )


def _rising(first_ms: float, step_ms: float) -> list[RequestRecord]:
    """40 req/s for 3 s; each 1 s window's requests wait step_ms longer than the last one's."""
    records = []
    for second in range(3):
        for i in range(40):
            sent = (second * 1000 + 25 * i) * MS
            records.append(
                RequestRecord("m", sent, sent, sent + round((first_ms + step_ms * second) * MS), True)
            )
    return records


RISING = TrialRules(warmup_s=0, min_duration_s=3, max_duration_s=3, window_s=1.0, min_window_requests=100)


def test_open_loop_latency_growing_every_window_is_overload() -> None:
    records = _rising(10, 40)  # +40 ms of wait per second: arrivals ~4% over what is served
    status, reasons = verdict(_trial(records, offered=40.0), RISING)
    assert status == "invalid" and any(r.kind == Why.QUEUE_GROWING for r in reasons), reasons
    closed = verdict(_trial(records), RISING)[1]  # a closed loop has no arrival schedule to fall behind
    assert not {r.kind for r in closed} & {Why.OVERLOADED, Why.QUEUE_GROWING}


def test_a_small_rise_of_latency_is_noise_not_a_growing_queue() -> None:
    """50 → 55 → 60 ms is +20%, but 5 ms a second is 0.5% of the time passing: no queue builds that slowly
    at a rate a search would care about, while three noisy windows rise like this by chance."""
    assert verdict(_trial(_rising(50, 5), offered=40.0), RISING) == ("valid", [])


def _with_slow_tail(rate: int, slow_share: float) -> list[RequestRecord]:
    """`rate` requests a window at 5 ms; in the last window `slow_share` of them take 9 ms instead."""
    every = round(1 / slow_share)
    return [
        RequestRecord(r.tenant, r.intended_ns, r.send_ns, r.intended_ns + 9 * MS, True)
        if r.intended_ns >= 2000 * MS and i % every == 0
        else r
        for i, r in enumerate(_steady(rate, 3))
    ]


def test_stability_latency_measure_is_chosen_by_the_rules() -> None:
    # 10% slow requests in the last window move its p95 from 5 to 9 ms but its mean only 8%.
    trial = _trial(_with_slow_tail(200, 0.1))
    assert verdict(trial, RULES)[0] == "invalid"  # auto: fixed windows with min_window_requests=0 → p95
    assert verdict(trial, replace(RULES, stability_latency="mean")) == ("valid", [])
    assert verdict(trial, replace(RULES, stability_latency="p50")) == ("valid", [])
    status, reasons = verdict(trial, replace(RULES, stability_latency="p95"))
    assert status == "invalid" and "p95 ms 5.0, 5.0, 9.0" in reasons[0].text
    # 200 a window hold 2 samples above a p99: too few to judge it, so the mean is compared instead.
    assert verdict(trial, replace(RULES, stability_latency="p99")) == ("valid", [])
    with pytest.raises(ConfigError, match="stability latency must be"):
        TrialRules(stability_latency="median")


def test_a_trace_is_judged_on_latency_alone() -> None:
    # A trace's windows carry 10, 40 and 20 requests: its own shape, not the server's throughput.
    records = _steady(10, 1) + _steady(40, 1, start_ms=1000) + _steady(20, 1, start_ms=2000)
    assert verdict(_trial(records), RULES)[0] == "invalid"  # a closed loop would be unstable
    scheduled = replace(_trial(records), scheduled=True)
    assert verdict(scheduled, RULES) == ("valid", [])


def test_windows_too_thin_to_judge_say_so() -> None:
    thin = replace(RULES, min_stability_samples=20, stability_latency="mean")
    status, reasons = verdict(_trial(_steady(10, 3)), thin)
    assert status == "invalid" and [r.text for r in reasons] == [
        "too few requests a window to judge stability: 10 (need 20); measure longer windows"
    ]
    assert verdict(_trial(_steady(20, 3)), thin) == ("valid", [])


def test_a_few_late_sends_are_not_a_generator_falling_behind() -> None:
    def late(count: int) -> list[RequestRecord]:
        records = _steady(40, 3)
        return [
            RequestRecord(r.tenant, r.intended_ns, r.send_ns + 3 * MS, r.done_ns + 3 * MS, True)
            if i < count
            else r
            for i, r in enumerate(records)
        ]

    rules = replace(RULES, stability_latency="mean")
    assert verdict(_trial(late(4)), rules) == ("valid", [])  # 3.3% late, but 4 sends
    status, reasons = verdict(_trial(late(5)), rules)
    assert status == "invalid" and [r.text for r in reasons] == [
        "generator fell behind: 4.2% of sends were more than 2 ms late"
    ]
    assert reasons[0].figures == {"late_fraction": 5 / 120, "late": 5, "threshold_ms": 2.0}


def test_controller_asks_its_rules_of_the_whole_windows_it_ends_on() -> None:
    """The trial ends on whole windows: a tenant's latencies and the least duration count in that window,
    not up to now. Windows of 3 s from 0, two alike make it stable: at 7.5 s the window ends at 6 s."""
    rules = TrialRules(
        warmup_s=0, min_duration_s=1, max_duration_s=30, window_s=3, min_window_requests=0, stable_windows=2
    )

    def sent(tenant: str, every_ms: int, until_ms: int, skip: int = -1) -> list[RequestRecord]:
        return [
            RequestRecord(tenant, t * MS, t * MS, t * MS + 5 * MS, True)
            for t in range(0, until_ms, every_ms)
            if t != skip
        ]

    control = Controller(replace(rules, min_tenant_requests=20), 0, open_loop=True)
    # b: one request each 300 ms, 25 by 7.5 s, and 20 by 6 s (0, 300, ..., 5700): just enough.
    assert control.check(sent("a", 10, 7500) + sent("b", 300, 7500), 7500 * MS) == 6000 * MS
    # Without the one at 5.7 s: 24 by now, but 19 in the window it would end on: it goes on.
    assert control.check(sent("a", 10, 7500) + sent("b", 300, 7500, skip=5700), 7500 * MS) is None
    # A least duration of 7 s: at 7.5 s only 6 s of whole windows, so it goes on until 9 s.
    longer = Controller(replace(rules, min_duration_s=7), 0, open_loop=True)
    assert longer.check(sent("a", 10, 7500), 7500 * MS) is None
    assert longer.check(sent("a", 10, 9000), 9000 * MS) == 9000 * MS
