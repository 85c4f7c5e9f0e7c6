"""The probe judge at its edges, each value worked by hand: what mutation testing (benchmarks/mutants.py,
docs/mutants.md) found no other unit test pinned."""

import math
from dataclasses import replace

import pytest

from perseus.core.histogram import encode, histogram_of, new_histogram
from perseus.core.reasons import DOUBTS, REPLACED, RETRY_RULE, Reason, Why
from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import Verdict, doubtful, judge, judged, latency_ms, probes
from tests.unit.trial_rows import MS, measured_row, summary_of


def _row(status: str, reasons: tuple[Reason, ...] = (), **tenants: dict[str, object]) -> TrialRow:
    return TrialRow(1, 1, "t", {}, status, reasons, TrialSummary(dict(tenants)))


def test_an_attempt_with_every_kind_of_doubt_and_nothing_else_is_in_doubt() -> None:
    every = tuple(Reason(kind, kind.value) for kind in sorted(DOUBTS))
    assert doubtful(_row("invalid", every))
    assert not doubtful(_row("invalid", (*every, Reason(Why.OVERLOADED, "overloaded"))))


def test_attempts_stored_out_of_order_are_judged_in_attempt_order() -> None:
    second, first = measured_row(2, [10.0] * 100, attempt=1), measured_row(3, [20.0] * 100, attempt=0)
    assert [[row.id for row in probe] for probe in probes([second, first])] == [[3, 2]]


def test_a_single_attempts_latency_without_a_histogram_is_its_stored_figure() -> None:
    # A p99.9 is stored under p99_9_ms; an attempt without its distribution is read as stored.
    row = _row("valid", a={"p99_9_ms": 12.5, "p95_ms": 8.0})
    assert latency_ms([row], "a", 99.9) == 12.5
    assert latency_ms([row], "a", 95.0) == 8.0
    # Two such attempts cannot be pooled: unknown.
    assert math.isnan(latency_ms([row, row], "a", 95.0))


def test_pooled_histograms_holding_nothing_give_no_latency() -> None:
    empty = encode(new_histogram())
    rows = [_row("valid", a={"histogram": empty}), _row("valid", a={"histogram": empty})]
    assert math.isnan(latency_ms(rows, "a", 95.0))
    full = [_row("valid", a={"histogram": encode(histogram_of([10 * MS] * 20))})] * 2
    assert latency_ms(full, "a", 95.0) == pytest.approx(10.0, rel=0.01)  # HDR: 3 significant digits


def test_a_probe_whose_every_attempt_failed_is_refused_as_a_server_fault() -> None:
    failed = replace(
        measured_row(1, [10.0] * 100), status="failed", reasons=(Reason(Why.SERVER_FAULT, "boom"),)
    )
    assert judge([failed, failed], ["a"]) == Verdict(
        False, "failed: boom", 0, {}, refused=frozenset({Why.SERVER_FAULT})
    )


def test_a_tenants_percentiles_are_read_at_their_ranks_and_its_need_kept() -> None:
    # Two attempts of latencies 1, 2, …, 100 ms under p99 ≤ 200 ms, pooled: 200 latencies, p95 = the
    # 190th = 95 ms and p99 = the 198th = 99 ms (HDR: 3 significant digits); a p99 needs 500 latencies
    # (core.sla), so 200 are too few, whatever the latencies say.
    rows = [
        measured_row(i + 1, [float(v) for v in range(1, 101)], sla="p99=200ms", attempt=i) for i in range(2)
    ]
    verdict = judge(rows, ["a"])
    a = verdict.tenants["a"]
    assert (a.requests, a.need, a.met) == (200, 500, True)
    assert a.p95_ms == pytest.approx(95.0, abs=0.05) and a.latency_ms == pytest.approx(99.0, abs=0.05)
    assert not verdict.feasible and verdict.refused == frozenset({Why.TOO_FEW_LATENCIES})
    assert (
        verdict.detail == "too few requests to judge a's p99 ≤ 200 ms: 200 (need 500) (2 attempts together)"
    )
    # Without an SLA a tenant's latency is read at the 95th percentile, and nothing is met or missed.
    plain = {k: v for k, v in summary_of([float(v) for v in range(1, 101)]).items() if k != "sla"}
    free = judge([_row("valid", a=plain), _row("valid", a=plain)], ["a"]).tenants["a"]
    assert free.latency_ms == pytest.approx(95.0, abs=0.05) and free.met is None
    # Attempts stored without their distributions: counts add up, latencies unknown, met where all met.
    bare = {"requests": 100, "sla": "p95=100ms", "sla_samples": 100, "sla_met": True}
    judged_bare = judge([_row("valid", a=bare), _row("valid", a=bare)], ["a"]).tenants["a"]
    assert (judged_bare.requests, judged_bare.need, judged_bare.met) == (200, 100, True)
    assert math.isnan(judged_bare.latency_ms) and math.isnan(judged_bare.p95_ms)


def test_an_overload_and_a_late_generator_in_every_attempt_both_refuse() -> None:
    late = Reason(Why.GENERATOR_BEHIND, "generator fell behind")
    over = Reason(Why.OVERLOADED, "overloaded")
    rows = [
        measured_row(1, [10.0] * 100, "invalid", (over, late)),
        measured_row(2, [10.0] * 100, "invalid", (late,), 1),
    ]
    verdict = judge(rows, ["a"])
    assert verdict.refused == frozenset({Why.OVERLOADED, Why.GENERATOR_BEHIND})
    assert verdict.detail == "overloaded; generator fell behind (2 attempts together)"
    assert verdict.attempts == 2 and set(verdict.tenants) == {"a"}


def test_a_miss_names_its_tenant_and_a_doubt_alone_flags_a_pass() -> None:
    missed = judge([measured_row(1, [150.0] * 100)], ["a"])
    assert (missed.feasible, missed.missed, missed.attempts) == (False, ("a",), 1)
    unstable = measured_row(1, [10.0] * 100, "invalid", (Reason(Why.UNSTABLE, "unstable"),))
    passed = judge([unstable], ["a"])
    assert (passed.feasible, passed.flagged, passed.detail) == (True, True, "ok (flagged: unstable)")
    clean = judge([measured_row(1, [10.0] * 100)], ["a"])  # VALID: nothing to flag
    assert (clean.feasible, clean.flagged, clean.detail) == (True, False, "ok")


def test_a_probe_stored_before_pooling_is_judged_on_its_last_attempt_alone() -> None:
    rows = [
        replace(measured_row(i + 1, [10.0 * (i + 1)] * 100, attempt=i), spec={RETRY_RULE: REPLACED})
        for i in range(3)
    ]
    assert [r.id for r in judged(rows)] == [3]
