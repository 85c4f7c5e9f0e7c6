"""Retries running out while a probe is still in doubt, through the real lab, probes, searches and
analyses over a model of a server (fake_server) whose every probe's first attempts come out in doubt:
no attempt beyond the experiment's retries is measured, and the probe is judged on the attempts it has
(store.judge): windows that disagree only flag it, late sends in every attempt refuse it, and a server
that broke every time says nothing feasible.

One instance of a 10 ms sleep (fake_server): p95 = 10(1 + 3ρ/(1 − ρ)) ms meets 100 ms up to ρ = 0.75,
75 req/s. Its search starts at 0.8 × the closed-loop 100 req/s = 80 (not feasible), falls to 80/4 = 20,
then bisects: 50, 65, 72.5 feasible, 76.25 not, 74.375 feasible, and stops (76.25 − 74.375 = 1.875 ≤ 5% of
74.375): λ = 74.375 req/s."""

from pathlib import Path
from typing import Any

import pytest

from perseus.core.errors import SlaNotMetError
from perseus.core.reasons import Reason, Why
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.store import Store
from perseus.store.judge import probes
from tests.unit.fake_server import first_attempts, run_on
from tests.unit.test_kinds import FAST, QUICK

UNSTABLE = Reason(Why.UNSTABLE, "unstable: the last 3 windows differ")
LATE = Reason(Why.GENERATOR_BEHIND, "generator fell behind: 3.0% of sends were more than 2 ms late")
FAULT = Reason(Why.SERVER_FAULT, "server fault during the trial: stub process 7 of a died")
LAMBDA = 74.375  # see the module's docstring


def _run(tmp_path: Path, session: Any, retries: int = 1) -> tuple[Store, int, list[str]]:
    store = Store(tmp_path / "results.db")
    exp = parse_experiment(
        {"name": "p", **QUICK, "kind": "peak", "models": [FAST], "trial": {"retries": retries}}, "t"
    )
    run_id, phases = run_on(store, exp, session)
    return store, run_id, phases.said


def _searched(store: Store, run_id: int) -> list[list[int]]:
    """Each open-loop probe's attempts, by number (the closed-loop estimate left out)."""
    return [
        [t.key.attempt for t in p if t.key is not None]
        for p in probes(store.trials(run_id))
        if p[-1].key is not None and p[-1].key.offered
    ]


def test_windows_unstable_on_every_attempt_flag_the_probe_and_lambda_does_not_move(tmp_path: Path) -> None:
    # Three attempts would come out unstable; one retry is allowed, so each probe stops at two.
    store, run_id, said = _run(tmp_path, first_attempts("invalid", UNSTABLE, attempts=3))
    assert _searched(store, run_id) == [[0, 1]] * 7  # 80, 20, 50, 65, 72.5, 76.25, 74.375
    (peak,) = experiment_results(store, run_id).findings.peaks.values()
    assert peak.total_rps == LAMBDA
    assert [p.feasible for p in peak.probes] == [False, True, True, True, True, False, True]
    ok = peak.probes[1]
    assert ok.attempts == 2 and ok.status == "invalid"
    assert ok.reason == "every SLA met; 2 attempts together; flagged: " + "; ".join([UNSTABLE.text] * 2)
    # The second attempt is the last: its line gives the verdict, it does not promise a third.
    assert sum("measuring again" in line for line in said) == 7
    flagged = "→ feasible, 2 attempts together; flagged: " + "; ".join([UNSTABLE.text] * 2)
    assert sum(line.endswith(flagged) for line in said) == 5
    missed = "→ not feasible (synthetic-sleep p95 ≤ 100 ms missed (2 attempts together))"
    assert f"dedicated synthetic-sleep: probe r=76.25 req/s {missed}" in said


def test_late_sends_on_every_attempt_refuse_every_probe(tmp_path: Path) -> None:
    """A late send only makes the server look slower, but when every attempt was late no attempt is a
    measurement to trust: the probe is refused, at every rate, and the search finds nothing."""
    with pytest.raises(SlaNotMetError) as raised:
        _run(tmp_path, first_attempts("invalid", LATE, attempts=2))
    assert f"{LATE.text} (2 attempts together)" in str(raised.value)


def test_a_server_broken_on_every_attempt_finds_nothing(tmp_path: Path) -> None:
    with pytest.raises(SlaNotMetError, match=r"not feasible even at .*failed: server fault"):
        _run(tmp_path, first_attempts("failed", FAULT, attempts=2))


def test_more_retries_reach_the_clean_attempt(tmp_path: Path) -> None:
    """Two retries, two attempts late: the third is clean and the probe is judged on all three (the late
    doubt did not hold in every attempt); λ is the clean λ."""
    store, run_id, _ = _run(tmp_path, first_attempts("invalid", LATE, attempts=2), retries=2)
    assert _searched(store, run_id) == [[0, 1, 2]] * 7
    (peak,) = experiment_results(store, run_id).findings.peaks.values()
    assert peak.total_rps == LAMBDA and all(p.attempts == 3 for p in peak.probes)
