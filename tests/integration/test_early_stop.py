"""A probe stops as soon as its SLA is certainly missed, on the real embedded Triton: one instance of a
10 ms sleep serves about 90 req/s, so at 400 req/s every latency grows past 100 ms within a fraction of a
second and the trial stops long before its 4 s; at 40 req/s nothing is late and it runs its course. Judged
by the trial's own stored figures and records, never by the wall clock."""

from pathlib import Path

import pytest

from perseus.core.progress import NullReporter
from perseus.core.reasons import Why
from perseus.experiments import registry
from perseus.experiments.registry import parse_experiment
from perseus.loadgen import TenantRate, open_loop
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store
from perseus.store.judge import judge
from tests.unit import example_kind

MAX_S = 4.0
WARMUP_S = 0.2
# What a trial stopped early is not refused for: it is judged on its SLA, not on what only a pass needs.
NOT_ASKED = {Why.TOO_SHORT, Why.TOO_FEW_LATENCIES, Why.TOO_FEW_REQUESTS, Why.WINDOW_TOO_FEW, Why.UNSTABLE}


def test_an_overloaded_probe_stops_once_its_sla_is_lost_and_one_within_capacity_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "KINDS", (*registry.KINDS, example_kind))  # `steady`: fixed rates
    exp = parse_experiment(
        {
            "name": "early",
            "kind": "steady",
            "models": ["synthetic-sleep:service_ms=10"],
            "sla": "p95=100ms",
            "steady": {"rates_rps": [40, 400]},
            "trial": {"warmup_s": WARMUP_S, "min_duration_s": 1, "max_duration_s": MAX_S, "retries": 0},
            "telemetry_interval_s": 0.5,
        },
        "test",
    )
    store = Store(tmp_path / "results.db")
    run_id = run_experiment(exp, store, NullReporter())
    trials = {t.key.offered["synthetic-sleep"]: t for t in store.trials(run_id) if t.key is not None}
    assert set(trials) == {40.0, 400.0}

    within = trials[40.0]
    assert "stopped_early" not in within.summary.loadgen

    over = trials[400.0]
    stopped = over.summary.loadgen["stopped_early"]
    assert stopped["reason"] == "sla-lost" and stopped["tenant"] == "synthetic-sleep"
    assert 0 < stopped["stopped_at_s"] < MAX_S
    assert over.summary.value("synthetic-sleep", "sla_met") is False
    assert not {r.kind for r in over.reasons} & NOT_ASKED
    verdict = judge([over], ["synthetic-sleep"])
    assert not verdict.feasible and Why.TOO_FEW_LATENCIES not in verdict.refused
    # Its figures are its records' and its schedule's: every latency it counted is in the window it kept
    # (late ones only grow), and `planned` is what its own seeded schedule draws in the longest window.
    records = store.trial_records(over.id)
    assert (records.window_end_ns - records.window_start_ns) / 1e9 <= stopped["stopped_at_s"] + 1e-3
    late = [r for r in records.measured() if r.ok and r.latency_ns > 100_000_000]
    assert len(late) >= stopped["late"] > stopped["allowed"]
    arrivals = open_loop([TenantRate("synthetic-sleep", 400.0)], seed=int(over.spec["seed"]))
    first, last = round(WARMUP_S * 1e9), round((WARMUP_S + MAX_S) * 1e9)
    drawn = 0
    for arrival in arrivals:
        if arrival.t_ns >= last:
            break
        drawn += arrival.t_ns >= first
    assert stopped["planned"] == drawn
    store.close()
