"""Probes measured again, through the real lab, searches and analyses over a model of a server: an
attempt in doubt or FAILED is measured once more whichever way its SLAs came out, and the probe is judged
on its attempts together, so λ is what it would have been had the first attempt been clean."""

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

LATE = Reason(Why.GENERATOR_BEHIND, "generator fell behind: 3.0% of sends were more than 2 ms late")
FAULT = Reason(Why.SERVER_FAULT, "server fault during the trial: stub process 7 of a died")


def _lam(tmp_path: Path, session: Any = None, **fields: Any) -> tuple[float, Store, int]:
    store = Store(tmp_path / f"results-{len(list(tmp_path.iterdir()))}.db")
    exp = parse_experiment({"name": "p", **QUICK, "kind": "peak", "models": [FAST], **fields}, "t")
    run_id, _ = run_on(store, exp, session) if session is not None else run_on(store, exp)
    (peak,) = experiment_results(store, run_id).findings.peaks.values()
    return peak.total_rps, store, run_id


@pytest.mark.parametrize(("status", "reason"), [("failed", FAULT), ("invalid", LATE)], ids=["failed", "late"])
def test_every_first_attempt_in_doubt_is_measured_again_and_lambda_does_not_move(
    tmp_path: Path, status: str, reason: Reason
) -> None:
    """Before, a FAILED probe counted as infeasible and was never measured again (λ biased down), and a
    late one was measured again only when it had met its SLA. Now each probe, passed or missed, gets its
    second attempt, and the search finds the λ it finds on a server that never doubted."""
    clean, _, _ = _lam(tmp_path)
    found, store, run_id = _lam(tmp_path, first_attempts(status, reason))
    assert found == clean
    searched = [p for p in probes(store.trials(run_id)) if p[-1].key is not None and p[-1].key.offered]
    assert searched and all([t.key.attempt for t in p if t.key] == [0, 1] for p in searched)
    peak = experiment_results(store, run_id).findings.peaks["synthetic-sleep"]
    assert {p.feasible for p in peak.probes} == {True, False}  # both ways, each measured twice
    assert all(p.attempts == 2 for p in peak.probes)


def test_without_retries_a_failed_probe_is_not_feasible(tmp_path: Path) -> None:
    """`retries: 0` is honoured: no attempt is measured again, and a FAILED one says nothing feasible."""
    with pytest.raises(SlaNotMetError, match=r"not feasible even at .*failed: server fault"):
        _lam(tmp_path, first_attempts("failed", FAULT), trial={"retries": 0})
