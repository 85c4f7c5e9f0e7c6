"""The probe judge at its edges, each value worked by hand: what mutation testing (benchmarks/mutants.py,
docs/mutants.md) found no other unit test pinned."""

import math

import pytest

from perseus.core.histogram import encode, histogram_of, new_histogram
from perseus.core.reasons import DOUBTS, Reason, Why
from perseus.store import TrialRow, TrialSummary
from perseus.store.judge import doubtful, latency_ms, probes
from tests.unit.trial_rows import MS, measured_row


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
