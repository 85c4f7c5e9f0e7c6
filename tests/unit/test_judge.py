"""How a stored probe is judged, by the searches that run probes and the analyses that report them alike:
typed reasons, doubts measured again whichever way the SLA went, attempts judged together on their
pooled latencies, FAILED attempts measured again, and enough latencies for each SLA percentile."""

import dataclasses

import numpy as np

from perseus.core.reasons import REPLACED, RETRY_RULE, Reason, Why
from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import doubtful, feasible, judge, latency_ms
from tests.unit.trial_rows import measured_row

MET = {"sla": "p95 ≤ 100 ms", "sla_met": True, "p95_ms": 40.0}
MISSED = {"sla": "p95 ≤ 100 ms", "sla_met": False, "p95_ms": 140.0}
UNSTABLE = Reason(Why.UNSTABLE, "unstable: windows differ")
LATE = Reason(Why.GENERATOR_BEHIND, "generator fell behind: 2.0% of sends were more than 4 ms late")
OVERLOADED = Reason(Why.OVERLOADED, "overloaded: served 9 req/s of 10 sent (10 offered)")
FAULT = Reason(Why.SERVER_FAULT, "server fault during the trial: stub died")


def _row(status: str, reasons: tuple[Reason, ...] = (), **tenants: dict[str, object]) -> TrialRow:
    return TrialRow(1, 1, "t", {}, status, reasons, TrialSummary(dict(tenants)))


def test_feasible_needs_every_sla_and_no_blocking_reason() -> None:
    assert feasible(_row("valid", a=MET, b=MET), ["a", "b"]) == (True, "ok")
    assert feasible(_row("valid", a=MET, b=MISSED), ["a", "b"]) == (
        False,
        "b p95 ≤ 100 ms missed (p95 140.0 ms)",
    )
    assert feasible(_row("valid", a=MET), ["a", "b"]) == (False, "b served nothing")
    assert feasible(_row("invalid", (LATE,), a=MET), ["a"]) == (False, LATE.text)
    assert feasible(_row("failed", (FAULT,), a=MET), ["a"]) == (False, f"failed: {FAULT.text}")
    # Judged by kind, not by words: a reason reworded later still refuses the probe.
    reworded = Reason(Why.OVERLOADED, "the server kept only 9 of 10 req/s")
    assert feasible(_row("invalid", (reworded,), a=MET), ["a"]) == (False, reworded.text)


def test_an_unstable_probe_counts_and_is_flagged() -> None:
    ok, detail = feasible(_row("invalid", (UNSTABLE,), a=MET), ["a"])
    assert ok and detail == "ok (flagged: unstable: windows differ)"


def test_a_doubt_is_measured_again_whichever_way_the_sla_went() -> None:
    """Only what an attempt says of the measurement decides a retry, never its SLA: before, a late
    generator was measured again only when every SLA was met (a pass needed two attempts, a miss one)."""
    for tenant in (MET, MISSED):
        assert doubtful(_row("invalid", (UNSTABLE,), a=tenant))
        assert doubtful(_row("invalid", (LATE, UNSTABLE), a=tenant))
        assert doubtful(_row("invalid", (LATE,), a=tenant))
        assert not doubtful(_row("invalid", (LATE, OVERLOADED), a=tenant))
        assert not doubtful(_row("valid", (), a=tenant))
    assert doubtful(_row("failed", (FAULT,)))  # the server broke: that says nothing of the rate


def test_a_percentile_of_too_few_requests_is_not_judged() -> None:
    """A tenant given a small share of a trial's load: its p95 of 12 latencies is their largest but one,
    so the trial cannot say the SLA was met, however many requests the other tenant had. The rule each
    trial was measured under is stored with it (`sla_samples`: 100 for a p95 now)."""
    few = {**MET, "requests": 60, "sla_samples": 100}
    ok, detail = feasible(_row("valid", a={**MET, "requests": 900, "sla_samples": 100}, b=few), ["a", "b"])
    assert not ok and detail == "too few requests to judge b's p95 ≤ 100 ms: 60 (need 100)"
    assert feasible(_row("valid", a={**MET, "requests": 100, "sla_samples": 100}), ["a"]) == (True, "ok")
    p99 = {"sla": "p99 ≤ 100 ms", "sla_met": True, "p99_ms": 50.0, "requests": 499}
    detail = feasible(_row("valid", a=p99), ["a"])[1]  # no rule stored: today's (5 above the p99)
    assert detail == "too few requests to judge a's p99 ≤ 100 ms: 499 (need 500)"
    old = {**MET, "requests": 20, "sla_samples": 20}  # stored before: judged by the rule it had
    assert feasible(_row("valid", a=old), ["a"]) == (True, "ok")


def test_a_miss_names_the_percentile_of_the_sla() -> None:
    missed = {"sla": "p99 ≤ 20 ms", "sla_met": False, "p95_ms": 15.0, "p99_ms": 31.0}
    assert feasible(_row("valid", a=missed), ["a"]) == (False, "a p99 ≤ 20 ms missed (p99 31.0 ms)")


def test_a_retry_is_judged_together_with_the_first_attempt() -> None:
    """Its latencies pooled: the percentile of both attempts' latencies, on their summed count."""
    rng = np.random.default_rng(7)
    first = list(rng.uniform(10, 90, 90)) + [150.0] * 10  # 10% above the bound: p95 missed
    second = list(rng.uniform(10, 90, 98)) + [150.0] * 2  # 2% above: p95 met
    one = measured_row(1, first, "invalid", (UNSTABLE,))
    two = measured_row(2, second, attempt=1)
    assert not feasible(one, ["a"])[0] and feasible(two, ["a"])[0]
    verdict = judge([one, two], ["a"])
    pooled = np.array(first + second)
    assert verdict.attempts == 2 and verdict.tenants["a"].requests == 200
    assert verdict.tenants["a"].latency_ms == latency_ms([one, two], "a", 95.0)
    # HDR histograms hold 3 significant digits: the pooled p95 is the records' own, to that precision.
    truth = float(np.percentile(pooled, 95, method="inverted_cdf"))
    assert abs(verdict.tenants["a"].latency_ms - truth) <= truth * 1e-3
    assert verdict.feasible == (truth <= 100.0)
    assert "2 attempts together" in verdict.detail
    # The same whichever attempt came first: the pool has no order.
    swapped = judge([dataclasses.replace(two, id=1), dataclasses.replace(one, id=2)], ["a"])
    assert (swapped.feasible, swapped.tenants["a"].requests) == (verdict.feasible, 200)


def test_a_pool_reaches_the_latencies_one_attempt_did_not() -> None:
    one = measured_row(1, [20.0] * 60, "invalid", (UNSTABLE,))
    two = measured_row(2, [20.0] * 60, attempt=1)
    assert feasible(two, ["a"])[1] == "too few requests to judge a's p95 ≤ 100 ms: 60 (need 100)"
    assert judge([one, two], ["a"]).feasible


def test_lateness_refuses_a_pool_only_when_every_attempt_was_late() -> None:
    late = measured_row(1, [20.0] * 120, "invalid", (LATE,))
    clean = measured_row(2, [20.0] * 120, attempt=1)
    late_again = measured_row(2, [20.0] * 120, "invalid", (LATE,), attempt=1)
    assert judge([late, clean], ["a"]).feasible  # latency counts from the intended send: no flattery
    assert judge([late, late_again], ["a"]).refused == {Why.GENERATOR_BEHIND}
    overloaded = measured_row(2, [20.0] * 120, "invalid", (OVERLOADED,), attempt=1)
    assert judge([late, overloaded], ["a"]).refused == {Why.OVERLOADED}  # refused by any attempt


def test_a_failed_attempt_is_left_out_and_its_retry_judged() -> None:
    failed = dataclasses.replace(measured_row(1, [500.0] * 120, "failed", (FAULT,)), summary=TrialSummary())
    retry = measured_row(2, [20.0] * 120, attempt=1)
    assert not judge([failed], ["a"]).feasible
    verdict = judge([failed, retry], ["a"])
    assert verdict.feasible and verdict.attempts == 1 and verdict.tenants["a"].requests == 120


def test_a_probe_stored_before_pooling_is_judged_on_its_last_attempt() -> None:
    """Runs stored before this rule read as they were reported: the retry replaced the first attempt."""
    first = measured_row(1, [150.0] * 120, "invalid", (UNSTABLE,))
    retry = measured_row(2, [20.0] * 120, attempt=1)
    old = [dataclasses.replace(r, spec={**r.spec, RETRY_RULE: REPLACED}) for r in (first, retry)]
    assert judge(old, ["a"]).feasible and judge(old, ["a"]).attempts == 1
    assert not judge([first, retry], ["a"]).feasible  # pooled, 50% of them above the bound
