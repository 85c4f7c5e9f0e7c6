"""A search's probe stops as soon as its SLA is certainly missed, on the real embedded Triton: one
instance of a 10 ms sleep serves about 90 req/s, so at 640 req/s every latency grows past 100 ms within a
fraction of a second and the trial stops long before its 4 s; at 40 req/s nothing is late and it runs its
course. Judged by the trial's own stored figures and records, never by the wall clock."""

from pathlib import Path

from perseus.core.progress import NullReporter
from perseus.core.reasons import Why
from perseus.experiments.registry import parse_experiment
from perseus.loadgen import TenantRate, open_loop
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store
from perseus.store.judge import judge

MAX_S = 4.0
WARMUP_S = 0.2
# What a trial stopped early is not refused for: it is judged on its SLA, not on what only a pass needs.
NOT_ASKED = {Why.TOO_SHORT, Why.TOO_FEW_LATENCIES, Why.TOO_FEW_REQUESTS, Why.WINDOW_TOO_FEW, Why.UNSTABLE}


def test_an_overloaded_probe_stops_once_its_sla_is_lost_and_one_within_capacity_does_not(
    tmp_path: Path,
) -> None:
    """A search from 640 req/s: 640 and 160 are past capacity, 40 within it (and above the floor of 4 s
    trials: 122 expected latencies for a p95 need 30.5 req/s); three probes, no retries."""
    exp = parse_experiment(
        {
            "name": "early",
            "kind": "peak",
            "models": ["synthetic-sleep:service_ms=10"],
            "sla": "p95=100ms",
            "search": {"start_rps": 640, "max_probes": 3, "opening": "wide"},  # ÷4, ÷4: 160, 40
            "trial": {"warmup_s": WARMUP_S, "min_duration_s": 1, "max_duration_s": MAX_S, "retries": 0},
            "telemetry_interval_s": 0.5,
        },
        "test",
    )
    store = Store(tmp_path / "results.db")
    run_id = run_experiment(exp, store, NullReporter())
    trials = {
        t.key.offered["synthetic-sleep"]: t
        for t in store.trials(run_id)
        if t.key is not None and t.key.purpose != "estimate"
    }
    assert set(trials) == {640.0, 160.0, 40.0}

    within = trials[40.0]
    assert "stopped_early" not in within.summary.loadgen

    over = trials[640.0]
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
    arrivals = open_loop([TenantRate("synthetic-sleep", 640.0)], seed=int(over.spec["seed"]))
    first, last = round(WARMUP_S * 1e9), round((WARMUP_S + MAX_S) * 1e9)
    drawn = 0
    for arrival in arrivals:
        if arrival.t_ns >= last:
            break
        drawn += arrival.t_ns >= first
    assert stopped["planned"] == drawn
    store.close()
