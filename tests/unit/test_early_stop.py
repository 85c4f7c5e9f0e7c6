"""Stopping an open-loop trial once an SLA is certainly missed (loadgen/early_stop.py), on hand-made
request records whose counts are worked by hand: it fires on the first latency past the allowance and not
one before, counts an unanswered request by its age, only inside whole windows, never for a closed loop or
without an SLA; and the trial it cuts is judged a miss, not a trial too short to judge."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from perseus.config import ServerConfig
from perseus.core.histogram import histogram_of, values_at_percentiles
from perseus.core.progress import Reporter
from perseus.core.reasons import Why
from perseus.core.sla import SlaTarget
from perseus.experiments.registry import parse_experiment
from perseus.loadgen import LoadSpec, RequestRecord, TenantRate, TrialRules, summarize, verdict
from perseus.loadgen.control import Controller
from perseus.loadgen.early_stop import SlaWatch, allowance, sla_watch
from perseus.loadgen.schedule import Arrival
from perseus.loadgen.sender import send_open
from perseus.orchestrate.probe import outcome
from perseus.store import Store, TrialKey, TrialRow, TrialSummary
from perseus.store.judge import doubtful, judge
from tests.unit.fake_server import FakeSession, run_on
from tests.unit.test_kinds import FAST

MS = 1_000_000
S = 1000 * MS
P95 = SlaTarget(95.0, 100 * MS)  # p95 ≤ 100 ms
# No warm-up, at most 10 s measured, 1 s windows, fixed (no widening): every edge below is one rule's.
RULES = TrialRules(
    warmup_s=0, min_duration_s=10, max_duration_s=10, window_s=1.0, min_window_requests=0, stop_when_lost=True
)
# 10 req/s, every 100 ms from 0: 100 arrivals in the 10 s window, so p95 allows 100 − int(95 + 0.5) = 5
# latencies above 100 ms; and 1% of 100 may still fail: floor(0.01 × 100) = 1 unanswered one not counted.
PLANNED = {"m": [k * 100 * MS for k in range(100)]}
ON_TIME, LATE = 10 * MS, 150 * MS


def _record(intended_ns: int, latency_ns: int, ok: bool = True) -> RequestRecord:
    return RequestRecord("m", intended_ns, intended_ns, intended_ns + latency_ns, ok)


def _answered(
    now_ns: int, late_at: set[int] = frozenset(), upto_ns: int | None = None
) -> list[RequestRecord]:
    """The records of the planned arrivals answered by now_ns (and intended before upto_ns): on time, but
    those intended at `late_at` (ms) 150 ms late."""
    records = []
    for t in PLANNED["m"]:
        latency = LATE if t // MS in late_at else ON_TIME
        if t + latency <= now_ns and (upto_ns is None or t < upto_ns):
            records.append(_record(t, latency))
    return records


def test_the_allowance_is_what_the_histogram_percentile_tolerates() -> None:
    """n − k latencies above the bound keep an HDR p95 within it, one more does not: checked against the
    histogram the summary reads (core.histogram), at the counts the tests below use and at the edges."""
    assert allowance(100, 95.0) == 5  # 100 − int(95.0 + 0.5)
    assert allowance(120, 95.0) == 6  # 120 − int(114.0 + 0.5)
    assert allowance(30, 95.0) == 1  # 30 − int(28.5 + 0.5) = 30 − 29
    assert allowance(20, 99.0) == 0  # 20 − int(19.8 + 0.5)
    assert allowance(1, 95.0) == 0  # 1 − max(int(0.95 + 0.5), 1)
    for n, allowed in ((100, 5), (120, 6), (30, 1), (1, 0)):
        within = [ON_TIME] * (n - allowed) + [LATE] * allowed
        above = [ON_TIME] * (n - allowed - 1) + [LATE] * (allowed + 1)
        assert values_at_percentiles(histogram_of(within), [95.0])[0] <= 100 * MS
        assert values_at_percentiles(histogram_of(above), [95.0])[0] > 100 * MS


def test_it_fires_on_the_first_late_latency_past_the_allowance() -> None:
    watch = SlaWatch({"m": P95}, PLANNED, RULES)
    now = 2 * S  # two whole windows: requests intended before 2 s count
    five = _answered(now, late_at={0, 100, 200, 300, 400})
    assert watch.check(five, 0, S, now) is None  # 5 late of 5 allowed: p95 can still be met
    six = _answered(now, late_at={0, 100, 200, 300, 400, 500})
    lost = watch.check(six, 0, S, now)
    assert lost is not None
    assert (lost.tenant, lost.late, lost.allowed, lost.planned) == ("m", 6, 5, 100)
    assert (lost.end_ns, lost.stopped_at_s) == (2 * S, 2.0)
    assert lost.figures() == {
        "reason": "sla-lost",
        "stopped_at_s": 2.0,
        "tenant": "m",
        "sla": "p95 ≤ 100 ms",
        "late": 6,
        "allowed": 5,
        "planned": 100,
    }
    failed = [_record(0, LATE, ok=False), *six[1:]]  # a failed request has no latency: 5 late left
    assert watch.check(failed, 0, S, now) is None


def test_an_unanswered_request_counts_once_older_than_the_bound() -> None:
    """Windows of the whole trial (10 s), so the count runs to now. Answered: the 13 intended at 0-1.2 s.
    At 2 s, the 19 due before 1.9 s (= now − 100 ms) less those 13 leave 6 unanswered older than the bound;
    one may yet fail, so 5 count: not past 5. A nanosecond later the one intended at 1.9 s is older than
    100 ms too: 7 − 1 = 6 count, past 5."""
    watch = SlaWatch({"m": P95}, PLANNED, RULES)
    answered = _answered(2 * S, upto_ns=1300 * MS)
    assert len(answered) == 13
    assert watch.check(answered, 0, 10 * S, 2 * S) is None
    lost = watch.check(answered, 0, 10 * S, 2 * S + 1)
    assert lost is not None and (lost.late, lost.allowed, lost.end_ns) == (6, 5, 2 * S + 1)


def test_under_an_in_flight_cap_only_answered_latencies_count() -> None:
    """A capped sender may hold a due send back past the stop, so an unanswered one is not counted."""
    watch = SlaWatch({"m": P95}, PLANNED, RULES, outstanding=False)
    assert watch.check(_answered(2 * S, upto_ns=500 * MS), 0, 10 * S, 3 * S) is None


def test_only_requests_before_the_last_whole_window_count() -> None:
    """A trial left to run would end on a whole window no earlier than the last boundary passed, so a late
    latency intended after it (at 2.1 s; now 2.5 s) is not counted until the window closes at 3 s."""
    watch = SlaWatch({"m": P95}, PLANNED, RULES)
    late = {0, 100, 200, 300, 400, 2100}
    assert watch.check(_answered(2500 * MS, late_at=late), 0, S, 2500 * MS) is None
    lost = watch.check(_answered(3 * S, late_at=late), 0, S, 3 * S)
    assert lost is not None and (lost.late, lost.end_ns) == (6, 3 * S)


def test_a_tenant_the_schedule_sends_nothing_has_nothing_to_lose() -> None:
    watch = SlaWatch({"m": P95, "idle": P95}, PLANNED, RULES)
    assert watch.check(_answered(2 * S), 0, S, 2 * S) is None


def _open(**kw: object) -> LoadSpec:
    rates = (TenantRate("m", 10.0, "constant"),)
    return LoadSpec(url="localhost:1", tenants=("m",), mode="open", rates=rates, **kw)  # type: ignore[arg-type]


def test_the_watch_needs_its_rule_an_sla_and_a_schedule() -> None:
    closed = LoadSpec(url="localhost:1", tenants=("m",), concurrency=4)
    assert sla_watch(closed, RULES, P95) is None  # a closed loop: nothing is due that could be outstanding
    assert sla_watch(_open(), RULES, None) is None
    assert sla_watch(_open(), replace(RULES, stop_when_lost=False), P95) is None
    assert sla_watch(_open(), RULES, {"other": P95}) is None  # an SLA of no tenant it sends


@pytest.mark.parametrize("workers", [1, 2])
def test_the_watch_plans_the_arrivals_the_schedule_sends(workers: int) -> None:
    """Constant 10 req/s from 0 (two workers: 5 req/s each, the second half a period later): arrivals at
    every 100 ms; in the longest window [1 s, 6 s), those at 1.0 … 5.9 s: 50."""
    rules = replace(RULES, warmup_s=1.0, min_duration_s=5, max_duration_s=5)
    watch = sla_watch(_open(workers=workers), rules, P95)
    assert watch is not None and len(watch.times["m"]) == 50
    assert (watch.times["m"][0], watch.times["m"][-1]) == (1 * S, 5900 * MS)
    # Worker processes hand records over in batches: an unanswered one may be answered already.
    assert watch.outstanding == (workers == 1)
    assert not sla_watch(_open(max_in_flight=8), rules, P95).outstanding  # type: ignore[union-attr]


def test_a_trial_stopped_on_a_lost_sla_is_judged_a_miss_not_too_short() -> None:
    """The controller ends the window where the count was made; the trial's summary misses its SLA on the
    requests it has, stability and the minimum of requests are not asked of it, and a probe of it is a
    miss measured once, not a trial in doubt or too short to judge."""
    spec = _open()
    control = Controller(RULES, 0, open_loop=True, watch=SlaWatch({"m": P95}, PLANNED, RULES))
    records = _answered(2 * S, late_at={0, 100, 200, 300, 400, 500})
    end = control.check(records, 2 * S)
    assert end == 2 * S
    trial = control.records(spec, records, end, 0)
    assert trial.stopped is not None and trial.stopped["late"] == 6
    status, reasons = verdict(trial, RULES)
    assert {r.kind for r in reasons} & {Why.TOO_SHORT, Why.TOO_FEW_REQUESTS, Why.UNSTABLE} == set()
    (summary,) = (s for t, s in summarize(trial, sla=P95).items() if t == "m")
    assert summary.sla_met is False and summary.requests == 20
    stored = {"m": {"sla": summary.sla, "sla_met": False, "p95_ms": summary.p95_ms, "requests": 20}}
    stored["m"]["sla_samples"] = 100  # 20 latencies, 100 needed to say a p95 was met: not to say missed
    row = TrialRow(
        1, 1, "t", {}, status, tuple(reasons), TrialSummary(stored, {"stopped_early": trial.stopped})
    )
    assert not doubtful(row)
    verdict_ = judge([row], ["m"])
    assert not verdict_.feasible and verdict_.missed == ("m",) and not verdict_.refused
    said = outcome(row, verdict_)
    assert said.startswith("not feasible (m p95 ≤ 100 ms missed (p95 ")
    assert said.endswith(
        "; stopped early at 2.0 s: SLA already lost (m p95 ≤ 100 ms: 6 late, 5 allowed of 100)"
    )
    # The same trial not stopped early is still refused as too short to judge a pass on.
    unstopped = replace(row, summary=TrialSummary(stored))
    assert judge([unstopped], ["m"]).refused == {Why.TOO_FEW_LATENCIES}


def test_a_trial_that_keeps_its_sla_is_not_stopped() -> None:
    control = Controller(RULES, 0, open_loop=True, watch=SlaWatch({"m": P95}, PLANNED, RULES))
    assert control.check(_answered(5 * S, late_at={0, 100, 200, 300, 400}), 5 * S) is None
    assert control.lost is None


class _Client:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def infer(self, tenant: str, batch: int) -> None:
        self.sent.append(tenant)

    async def close(self) -> None:
        pass


def test_a_stopped_sender_still_sends_what_was_due_before_the_stop() -> None:
    """Arrivals meant 1 s and 0.5 s ago are due, one 1 s ahead is not: a sender that sees the stop while
    behind sends the two due (every request meant before the stop is in the trial), not the next; under
    an in-flight cap it sends none (its backlog could be long)."""
    arrivals = [Arrival(0, "a"), Arrival(500 * MS, "b"), Arrival(2 * S, "c")]

    def go(cap: int | None) -> list[str]:
        client = _Client()
        start = time.monotonic_ns() - S
        asyncio.run(
            send_open(client, iter(arrivals), start, start + 10 * S, lambda: True, lambda r: None, cap)
        )
        return client.sent

    assert go(None) == ["a", "b"]
    assert go(4) == []


def test_only_a_searchs_first_attempts_may_stop_early(tmp_path: Path) -> None:
    """Through the real lab over a model of a server whose first attempts are all in doubt (so each is
    measured again): a λ search's probes ask for the early stop on their first attempt only (a retry is
    judged pooled with it); the QoS sweep's trials at fixed fractions of λ never (the kind reports their
    latencies), nor the closed-loop estimate."""
    seen: list[tuple[str, int, bool]] = []

    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
        class Recording(FakeSession):
            def trial(self, store: Store, run_id: int, name: str, make_spec: Any, *rest: Any) -> None:
                rules, key = rest[0], TrialKey.from_json(rest[2]["key"])
                seen.append((key.purpose, key.attempt, rules.stop_when_lost))
                super().trial(store, run_id, name, make_spec, *rest)

        yield Recording(config, doubt_first=True)

    exp = parse_experiment(
        {
            "name": "t",
            "kind": "qos-sweep",
            "models": [FAST],
            "sla": "p95=100ms",
            "qos": {"fractions": [0.5, 1.2]},
        },
        "test",
    )
    run_on(Store(tmp_path / "results.db"), exp, session)
    asked = {(purpose, attempt): stop for purpose, attempt, stop in seen}
    assert asked == {
        ("estimate", 0): False,
        ("peak", 0): True,
        ("peak", 1): False,
        ("qos", 0): False,
        ("qos", 1): False,
    }
    assert len({stop for p, a, stop in seen if (p, a) == ("peak", 0)}) == 1  # every first probe alike


def test_a_certain_miss_needs_no_more_latencies_of_any_tenant() -> None:
    """Two tenants, the trial stopped on a's SLA: a missed on 20 latencies, b met on 30 (a p95 asks for
    100 to say met). The probe is a miss of a; without the stop both would be too few to judge."""
    a = {"sla": "p95 ≤ 100 ms", "sla_met": False, "p95_ms": 150.0, "requests": 20, "sla_samples": 100}
    b = {"sla": "p95 ≤ 100 ms", "sla_met": True, "p95_ms": 20.0, "requests": 30, "sla_samples": 100}
    stopped = {"reason": "sla-lost", "stopped_at_s": 0.4, "tenant": "a", "sla": "p95 ≤ 100 ms"}
    row = TrialRow(1, 1, "t", {}, "valid", (), TrialSummary({"a": a, "b": b}, {"stopped_early": stopped}))
    found = judge([row], ["a", "b"])
    assert (found.feasible, found.missed, found.refused) == (False, ("a",), frozenset())
    assert found.detail == "a p95 ≤ 100 ms missed (p95 150.0 ms)"
    plain = judge([replace(row, summary=TrialSummary({"a": a, "b": b}))], ["a", "b"])
    assert plain.refused == {Why.TOO_FEW_LATENCIES} and plain.missed == ()
    # Stopped on a, but b is the one short and missed: a's miss is not certain for b's count.
    met_a = {**a, "sla_met": True, "p95_ms": 20.0}
    other = judge(
        [
            replace(
                row,
                summary=TrialSummary({"a": met_a, "b": {**b, "sla_met": False}}, {"stopped_early": stopped}),
            )
        ],
        ["a", "b"],
    )
    assert other.refused == {Why.TOO_FEW_LATENCIES}
