"""Progress says how each probe came out (`probe r=… → feasible`, `→ not feasible (why)`), and the report's
probe table never shows an INVALID probe as feasible without saying what flagged it."""

import re
from pathlib import Path

from perseus.core.reasons import Reason, Why
from perseus.core.records import TrialRecords
from perseus.experiments.placements import dedicated
from perseus.experiments.results import experiment_results
from perseus.report import render_html
from perseus.report.kinds import searches
from perseus.report.table import probes_table
from perseus.store import Store, TrialKey, TrialSummary
from tests.unit.fake_server import doubting_session, run_on
from tests.unit.test_kinds import FAST, _exp


def test_each_probe_says_how_it_came_out(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    _, phases = run_on(store, _exp(kind="peak", models=[FAST]))
    probes = [line for line in phases.said if ": probe r=" in line]
    assert len(probes) == len([t for t in store.trials(1) if t.key and t.key.purpose == "peak"]) >= 3
    for line in probes:
        assert re.fullmatch(
            r"dedicated synthetic-sleep: probe r=\d+\.\d\d req/s → (feasible|not feasible \(.+\))", line
        ), line
    assert any(line.endswith("→ feasible") for line in probes)
    assert any("→ not feasible (synthetic-sleep p95 ≤ 100 ms missed (p95 " in line for line in probes)
    assert not any("peak at" in line for line in phases.said)
    # A resumed run measures nothing, and says nothing per probe.
    _, again = run_on(store, _exp(kind="peak", models=[FAST]), run_id=1)
    assert not [line for line in again.said if "→" in line]


def test_a_probe_in_doubt_says_it_is_measured_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    _, phases = run_on(store, _exp(kind="peak", models=[FAST]), doubting_session)
    lines = [line for line in phases.said if ": probe r=" in line]
    doubts = [line for line in lines if "→ in doubt (unstable" in line]
    assert doubts and all(line.endswith("; measuring again") for line in doubts)
    assert len(lines) == 2 * len(doubts)  # each probe: the attempt in doubt, then the one that counts


def test_a_flagged_probe_says_why_it_counts(tmp_path: Path) -> None:
    """No retries: every probe's only attempt is unstable; those that meet the SLA count, flagged."""
    store = Store(tmp_path / "results.db")
    run_id, phases = run_on(store, _exp(kind="peak", models=[FAST], trial={"retries": 0}), doubting_session)
    assert any(
        line.endswith("→ feasible, flagged (unstable: the last 3 windows differ)") for line in phases.said
    )
    results = experiment_results(store, run_id)
    (peak,) = searches(results)
    table = probes_table(peak)
    status, feasible, why = (table.columns.index(c) for c in ("status", "feasible", "why"))
    flagged = [row for row in table.rows if row[status].text == "invalid" and row[feasible].text != "no"]
    assert flagged
    for row in flagged:
        assert row[feasible].text == "yes, flagged"
        assert row[why].text == "every SLA met; flagged: unstable: the last 3 windows differ"
    page = render_html(results)
    assert "yes, flagged" in page and "every SLA met; flagged: unstable" in page
    assert not re.search(r">invalid</td><td[^>]*>yes</td>", page)


def test_an_unstable_estimate_is_not_counted_as_a_flagged_probe(tmp_path: Path) -> None:
    """The closed-loop estimate before a search offers no rates: it meets no SLA and misses none, so the
    previous release counted an unstable one among "probe(s) met the SLA but their windows did not agree"."""
    store = Store(tmp_path / "results.db")
    experiment = _exp(kind="peak", models=[FAST])
    run_id = store.create_run("experiment", experiment.model_dump(mode="json"), {})
    where = dedicated(experiment, "synthetic-sleep")
    key = TrialKey(where, "estimate", {"tenant": where.names[0]})
    summary = TrialSummary({"synthetic-sleep": {"throughput_rps": 99.0}})
    store.save_trial(
        run_id,
        key.name(),
        {"key": key.to_json()},
        TrialRecords(0, 0, 1),
        summary,
        "invalid",
        [Reason(Why.UNSTABLE, "unstable: x")],
    )
    assert not [w for w in experiment_results(store, run_id).warnings if "met the SLA" in w]
