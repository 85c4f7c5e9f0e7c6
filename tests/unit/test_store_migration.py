"""A results store written by the previous release (schema 3: trial meaning in name strings, summaries with
tenants beside the loadgen/server/usage blocks, experiment specs with every kind's sections) opens, reports
the same findings that release reported, and resumes without measuring anything again.

tests/fixtures/store-v3/results.db.gz was made by the release before typed trial keys (git 3929938) running
one quick experiment of every kind on synthetic models against the real embedded Triton, plus one bench
run (request rows trimmed to one trial per run to keep it small); findings-before.json is what that
release's own analysis said of each run."""

import gzip
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from perseus.core.reasons import JUDGING, REPLACED, RETRY_RULE, Why
from perseus.core.sla import parse_sla
from perseus.experiments.registry import stored_experiment
from perseus.experiments.results import experiment_results
from perseus.store import Store
from perseus.store.judge import feasible
from perseus.store.legacy_verdicts import legacy_reasons
from perseus.store.schema import SCHEMA_VERSION
from tests.unit.fake_server import WouldMeasure, replay_session, run_on

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v3"
BEFORE: dict[str, Any] = json.loads((FIXTURE / "findings-before.json").read_text())
BUGGY_INTERFERENCE = "7"  # three models, peaks: true: the release before reported 2 of its 6 pairs


@pytest.fixture
def store(tmp_path: Path) -> Store:
    path = tmp_path / "results.db"
    with gzip.open(FIXTURE / "results.db.gz") as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return Store(path)


FLAGGED = re.compile(r"^(\d+) probe\(s\) met the SLA but their windows did not agree")
# Frontier runs from before confirmations existed: their best point was never measured again, and says so.
UNCONFIRMED = (
    "Fig 2: the best point was not measured again after it was chosen",
    "knobs: λ alone of some model was not measured again",
    "knobs: the setting that saves most was not measured again",
)


def _other(warnings: list[str]) -> list[str]:
    return [w for w in warnings if not FLAGGED.match(w) and not w.startswith(UNCONFIRMED)]


def _flagged(warnings: list[str]) -> int:
    return sum(int(m.group(1)) for w in warnings if (m := FLAGGED.match(w)))


def _close(a: Any, b: Any) -> None:
    assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_the_old_store_is_migrated_in_place(store: Store) -> None:
    version = store._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION == 5
    for run in store.runs():
        for trial in store.trials(run.id):
            if run.kind == "experiment":
                assert trial.key is not None and trial.name == trial.key.name()
                assert "phase" not in trial.spec and "label" not in trial.spec
            assert not set(trial.summary.tenants) & {"loadgen", "server", "usage", "notices"}
    # Schema 5: each sentence the judge once matched by its words is typed, and each trial says the rules
    # it was judged by (20 latencies for a p95; a retry replaced the first attempt).
    trials = [t for run in store.runs() for t in store.trials(run.id)]
    judged = 0
    for trial in trials:
        assert (trial.status == "valid") == (trial.reasons == ())
        assert Why.OTHER not in {r.kind for r in trial.reasons}, trial.reason
        for tenant in trial.summary.tenants.values():
            if tenant.get("sla"):
                percentile = parse_sla(tenant["sla"]).percentile
                assert tenant["sla_samples"] == math.ceil(100 / (100 - percentile) - 1e-9)
                judged += 1
    assert judged > 100
    kinds = {r.kind for t in trials for r in t.reasons}
    assert {Why.OVERLOADED, Why.QUEUE_GROWING, Why.UNSTABLE, Why.GENERATOR_BEHIND} <= kinds
    assert {Why.TOO_FEW_REQUESTS} <= kinds
    experiments = [r for r in store.runs() if r.kind == "experiment"]
    assert all(r.provenance[JUDGING] == {"tail_samples": 1, RETRY_RULE: REPLACED} for r in experiments)
    assert all(t.spec[RETRY_RULE] == REPLACED for r in experiments for t in store.trials(r.id) if t.key)
    (bench,) = [r for r in store.runs() if r.kind == "bench"]
    (trial,) = store.trials(bench.id)
    assert set(trial.summary.tenants) == {"*", "synthetic-sleep"}
    assert trial.summary.loadgen["sent"] > 0 and "synthetic-sleep" in trial.summary.server


@pytest.mark.parametrize("run_id", sorted(BEFORE))
def test_findings_are_what_the_previous_release_reported(store: Store, run_id: str) -> None:
    before = BEFORE[run_id]
    results = experiment_results(store, int(run_id))
    found = results.findings
    assert (results.kind, results.status, results.trials) == (
        before["kind"],
        before["status"],
        before["trials"],
    )
    assert _other(results.warnings) == _other(before["warnings"])
    # That release also counted an unstable closed-loop estimate (it offers no rates, so it misses no SLA)
    # as a flagged probe; this one counts probes only.
    estimates = sum(
        1
        for t in store.trials(int(run_id))
        if t.key is not None and not t.key.offered and t.status == "invalid" and feasible(t, [])[0]
    )
    assert _flagged(results.warnings) == _flagged(before["warnings"]) - estimates
    peaks = getattr(found, "peaks", {})
    assert {p.label: p.total_rps for p in peaks.values()} == before["peaks"]
    if "fig1" in before:
        assert found.fig1.shared.rates_rps == before["fig1"]["shared"]
        _close(found.fig1.saving, before["fig1"]["saving"])
        _close([c.usd_per_1m for c in found.fig1.costs], before["fig1"]["usd_per_1m"])
    if "fig2" in before:
        assert [[p.rates_rps, p.saving, p.source] for p in found.fig2.points] == before["fig2"]["points"]
        assert found.fig2.confirmed is None and any(w.startswith(UNCONFIRMED[0]) for w in results.warnings)
    if "qos" in before:
        curves = [
            [c.tenant, c.placement, [[p.offered_rps, p.satisfaction, p.p95_ms] for p in c.points]]
            for c in found.curves
        ]
        assert curves == before["qos"]
    if "interference" in before:
        pairs = [[s.victim, s.aggressors, s.p95_ratio, s.peak_together_rps] for s in found.pairs]
        if run_id == BUGGY_INTERFERENCE:
            assert len(before["interference"]["pairs"]) == 2 and len(pairs) == 6  # every pair, now
            assert all(p in pairs for p in before["interference"]["pairs"])
        else:
            assert pairs == before["interference"]["pairs"]
        assert [[s.pinned, s.p95_ratio] for s in found.copies] == before["interference"]["copies"]
    if "knobs" in before:
        rows = [[r.setting, r.dedicated_rps, r.shared_rps, r.saving] for r in found.rows]
        assert rows == before["knobs"]


def test_old_runs_are_found_and_resume_without_measuring(store: Store) -> None:
    """`perseus run` finds a run by its exact spec; replaying each finished run's plan over the migrated
    trials asks only for trials that are stored (ReplaySession fails on any other).

    Not run 7: there the release before stored a pair's co-located trial under a stale "peak beside …"
    name that the victim's search then reused as its first probe; migrated, it is the pair's load trial,
    so resuming that run would measure that one probe again."""
    for run in store.runs():
        if run.kind != "experiment" or run.status != "done" or str(run.id) == BUGGY_INTERFERENCE:
            continue
        experiment = stored_experiment(run.spec, f"run {run.id}")
        assert experiment.model_dump(mode="json") == run.spec
        assert store.find_run("experiment", experiment.model_dump(mode="json")) == run
        before = len(store.trials(run.id))
        if run.spec["kind"] in ("frontier", "knobs"):  # resumed, it would confirm its best: nothing else
            with pytest.raises(WouldMeasure, match=r"confirm"):
                run_on(store, experiment, replay_session, run.id)
        else:
            run_on(store, experiment, replay_session, run.id)
        assert len(store.trials(run.id)) == before


def test_a_trial_it_cannot_read_is_kept_as_it_was(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "results.db"
    with gzip.open(FIXTURE / "results.db.gz") as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    db = sqlite3.connect(path)
    trial_id, spec_json = db.execute("SELECT id, spec_json FROM trials WHERE run_id=1 ORDER BY id").fetchone()
    db.execute(
        "UPDATE trials SET spec_json=? WHERE id=?",
        (json.dumps({**json.loads(spec_json), "phase": "odd"}), trial_id),
    )
    db.commit()
    db.close()
    with Store(path) as store:
        (odd,) = [t for t in store.trials(1) if t.id == trial_id]
        assert odd.key is None and odd.spec["phase"] == "odd"
        assert experiment_results(store, 1).trials == BEFORE["1"]["trials"]


def test_old_reason_sentences_are_typed_once() -> None:
    """Every sentence the releases before wrote, read into its kind and figures; its words are kept."""
    line = (
        "generator fell behind: 39.4% of sends were more than 5 ms late; overloaded: served 2086.0 req/s "
        "of 4006.7 sent (3970.1 offered); too few requests a window to judge stability: 3 (need 10); "
        "measure longer windows; host busy: other processes used 0.80 cores"
    )
    late, overloaded, thin, busy = legacy_reasons(line)
    assert late.kind == Why.GENERATOR_BEHIND
    assert late.figures == {"late_fraction": pytest.approx(0.394), "threshold_ms": 5.0}
    assert overloaded.kind == Why.OVERLOADED and overloaded.figures["offered_rps"] == 3970.1
    assert thin.kind == Why.WINDOW_TOO_FEW and thin.text.endswith("(need 10); measure longer windows")
    assert (busy.kind, busy.figures) == (Why.HOST_BUSY, {"cores": 0.8})
    assert "; ".join(r.text for r in (late, overloaded, thin, busy)) == line
    (fault,) = legacy_reasons("server fault during the trial: stub process 12 of a died (0 of 1 left)")
    assert fault.kind == Why.SERVER_FAULT
    (odd,) = legacy_reasons("something this version never wrote")
    assert odd.kind == Why.OTHER  # kept as it was; refuses nothing, as the judge before matched nothing
    assert legacy_reasons(None) == [] == legacy_reasons("")
