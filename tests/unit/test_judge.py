"""How a stored trial is judged, by the searches that run probes and the analyses that report them alike."""

from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import doubtful, feasible

MET = {"sla": "p95 ≤ 100 ms", "sla_met": True, "p95_ms": 40.0}
MISSED = {"sla": "p95 ≤ 100 ms", "sla_met": False, "p95_ms": 140.0}


def _row(status: str, reason: str | None, **tenants: dict[str, object]) -> TrialRow:
    return TrialRow(1, 1, "t", {}, status, reason, TrialSummary(dict(tenants)))


def test_feasible_needs_every_sla_and_no_blocking_reason() -> None:
    assert feasible(_row("valid", None, a=MET, b=MET), ["a", "b"]) == (True, "ok")
    assert feasible(_row("valid", None, a=MET, b=MISSED), ["a", "b"]) == (
        False,
        "b p95 ≤ 100 ms missed (p95 140.0 ms)",
    )
    assert feasible(_row("valid", None, a=MET), ["a", "b"]) == (False, "b served nothing")
    late = "generator fell behind: 2.0% of sends were more than 4 ms late"
    assert feasible(_row("invalid", late, a=MET), ["a"]) == (False, late)
    assert feasible(_row("failed", "stub died", a=MET), ["a"]) == (False, "failed: stub died")


def test_an_unstable_probe_counts_and_is_flagged() -> None:
    ok, detail = feasible(_row("invalid", "unstable: windows differ", a=MET), ["a"])
    assert ok and detail == "ok (flagged: unstable: windows differ)"


def test_doubtful_only_when_the_measurement_is_in_doubt() -> None:
    assert doubtful(_row("invalid", "unstable: x", a=MET))
    assert doubtful(_row("invalid", "generator fell behind: y; unstable: x", a=MET))
    assert not doubtful(_row("invalid", "generator fell behind: y; overloaded: z", a=MET))
    assert not doubtful(_row("invalid", "generator fell behind: y", a=MISSED))  # measuring again won't help
    assert doubtful(_row("invalid", "unstable: x", a=MISSED))
    assert not doubtful(_row("valid", None, a=MISSED))
    assert not doubtful(_row("failed", "unstable: x"))


def test_a_percentile_of_too_few_requests_is_not_judged() -> None:
    """A tenant given a small share of a trial's load: its p95 of 12 latencies is their largest but one
    (or beyond), so the trial cannot say the SLA was met, however many requests the other tenant had."""
    few = {**MET, "requests": 12}
    ok, detail = feasible(_row("valid", None, a={**MET, "requests": 900}, b=few), ["a", "b"])
    assert not ok and detail == "too few requests to judge b's p95 ≤ 100 ms: 12 (need 20)"
    assert feasible(_row("valid", None, a={**MET, "requests": 20}), ["a"]) == (True, "ok")
    p99 = {"sla": "p99 ≤ 100 ms", "sla_met": True, "p99_ms": 50.0, "requests": 99}
    detail = feasible(_row("valid", None, a=p99), ["a"])[1]
    assert detail == "too few requests to judge a's p99 ≤ 100 ms: 99 (need 100)"


def test_a_miss_names_the_percentile_of_the_sla() -> None:
    missed = {"sla": "p99 ≤ 20 ms", "sla_met": False, "p95_ms": 15.0, "p99_ms": 31.0}
    assert feasible(_row("valid", None, a=missed), ["a"]) == (False, "a p99 ≤ 20 ms missed (p99 31.0 ms)")
