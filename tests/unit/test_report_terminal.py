"""Result tables in a narrow terminal: nothing is cut (no model name, header or number ends in "…"), wide
tables are turned or split; `runs list` says what each run was and how it came out; a bench run reports;
a frontier run's report writes the CSV `perseus savings` reads."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from perseus.config.frontier import read_frontier
from perseus.core.reasons import Reason, Why
from perseus.core.records import TrialRecords
from perseus.cost.frontier import frontier_savings
from perseus.experiments.results import ExperimentResults
from perseus.report import render_results, write_report
from perseus.report.kinds import tables
from perseus.report.runs import bench_table, run_line, runs_table
from perseus.report.table import Cell, TableData, plain
from perseus.report.tables import layout, print_table
from perseus.store import Store, TrialSummary
from tests.unit.fake_server import run_on
from tests.unit.test_kinds import FAST, _exp
from tests.unit.test_report_factory import A, B, every_kind, sample_results

ROOT = Path(__file__).resolve().parents[2]


def _render(results: ExperimentResults, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    render_results(results, console)
    return console.export_text()


def _shown(text: str) -> str:
    """The table text with borders gone and wrapped lines joined: what a reader reads, in order."""
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐━─╇┳┻┼╋┃]", " ", text).split())


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("results", every_kind(), ids=lambda r: r.kind)
def test_tables_cut_nothing(results: ExperimentResults, width: int) -> None:
    text = _render(results, width)
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    assert "…" not in text
    words = set(_shown(text).split())
    for data in tables(results):
        for header in data.columns:
            assert set(header.split()) <= words, header  # a header may wrap, never lose a word
        for row in data.rows:
            for cell in row:
                if " " not in cell.text:  # names and numbers print whole, on one line
                    assert re.search(rf"(^|\s){re.escape(cell.text)}(\s|$)", text, re.M), cell.text
    assert A in words and B in words


def test_a_wide_table_of_few_rows_is_turned_at_80_columns() -> None:
    interference = every_kind()[2]
    text = _render(interference, 80)
    assert re.search(r"│ p95 ratio\s+│\s+1\.45× │\s+2\.50× │", text)  # a number column is now a row
    assert "test copies" in text and "pinned yes" in text  # rows head their columns, with names
    wide = _render(interference, 160)
    assert re.search(
        r"│ pair\s+│ resnet50\s+│ mobilenet_v2 │ no\s+│\s+12\.6 │", wide
    )  # as stored when it fits


def test_a_wide_table_of_many_rows_is_split_repeating_its_names() -> None:
    rows = [plain(f"model-{i}", "alone", *(f"{i}.{c}" for c in range(9))) for i in range(12)]
    data = TableData(
        "t", "Many", ["model", "where", *(f"column number {c}" for c in range(9))], rows, labels=2
    )
    parts = layout(data, 80)
    assert len(parts) > 1 and [p.title for p in parts][-1] == f"Many ({len(parts)}/{len(parts)})"
    assert all(p.columns[:2] == ["model", "where"] for p in parts)
    assert [c for p in parts for c in p.columns[2:]] == data.columns[2:]  # every column once, in order
    console = Console(width=80, record=True)
    print_table(data, console)
    text = console.export_text()
    assert "…" not in text and all(f"model-{i} " in text for i in range(12))
    assert layout(data, 400) == [data]


def _runs_store(tmp_path: Path) -> tuple[Store, dict[str, int]]:
    store = Store(tmp_path / "results.db")
    experiment_id, _ = run_on(store, _exp(kind="peak", models=[FAST]))
    stopped = store.create_run("experiment", {"name": "cut short", "kind": "frontier", "models": [A, B]}, {})
    store.save_trial(stopped, "t", {}, TrialRecords(0, 0, 1), TrialSummary(), "valid")
    store.finish_run(stopped, "interrupted", "stopped before the end")
    ids = {"experiment": experiment_id, "stopped": stopped}
    for verdict, reason in (
        ("valid", []),
        ("invalid", [Reason(Why.UNSTABLE, "unstable: windows differ by 14%")]),
    ):
        spec: dict[str, Any] = {"mode": "closed", "concurrency": 4, "tenants": ["mobilenet_v2"], "url": "h:1"}
        run_id = store.create_run("bench", spec, {})
        summary = {
            "mobilenet_v2": {"throughput_rps": 98.7, "p50_ms": 9.5, "p95_ms": 12.25, "errors": 0},
            "*": {"throughput_rps": 98.7, "p95_ms": 12.25, "sla": "p95 ≤ 50 ms", "sla_met": True},
        }
        store.save_trial(run_id, "bench", {}, TrialRecords(0, 0, 1), TrialSummary(summary), verdict, reason)
        store.finish_run(run_id, "done")
        ids[verdict] = run_id
    ids["empty"] = store.create_run("bench", {"mode": "open", "tenants": ["x"]}, {})
    store.finish_run(ids["empty"], "failed", "cannot reach h:1")
    return store, ids


def test_runs_list_names_kind_models_and_verdict(tmp_path: Path) -> None:
    store, ids = _runs_store(tmp_path)
    lines = {line.id: line for line in (run_line(r, store.trials(r.id)) for r in store.runs())}
    first = lines[ids["experiment"]]
    assert (first.name, first.kind, first.models, first.verdict.text) == ("t", "peak", [FAST], "done")
    assert lines[ids["stopped"]].verdict == Cell("partial", "warn")
    assert (lines[ids["valid"]].kind, lines[ids["valid"]].verdict.text) == ("bench", "VALID")
    assert lines[ids["valid"]].name == "closed loop, 4 users" and lines[ids["valid"]].models == [
        "mobilenet_v2"
    ]
    assert lines[ids["invalid"]].verdict == Cell("INVALID", "bad")
    assert lines[ids["empty"]].verdict.text == "failed"
    console = Console(width=80, record=True)
    print_table(runs_table(lines.values(), str(store.path)), console)
    text = console.export_text()
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines())
    for needle in (
        "resnet50,",
        "mobilenet_v2",
        "synthetic-sleep:service_ms=10",
        "INVALID",
        "VALID",
        "partial",
    ):
        assert needle in text, needle  # whole, though a name of several words may wrap


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "perseus", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_runs_list_and_report_of_a_bench_run_on_the_command_line(tmp_path: Path) -> None:
    store, ids = _runs_store(tmp_path)
    db = str(store.path)
    store.close()
    listed = _cli("runs", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout and max(map(len, listed.stdout.splitlines())) <= 80
    assert "INVALID" in listed.stdout and "synthetic-sleep:service_ms=10" in listed.stdout
    assert "(1/2)" not in listed.stdout and "started" not in listed.stdout  # one table: the time gives way
    wide = _cli("runs", "list", "--db", db, columns=120).stdout
    assert re.search(r"│ \d+\s+│ closed loop, 4 users │ bench\s+│ mobilenet_v2\s+│ INVALID │", wide), wide
    assert "started (UTC)" in wide
    shown = _cli("report", str(ids["invalid"]), "--db", db)
    assert shown.returncode == 0, shown.stderr
    assert "INVALID: unstable: windows differ by 14%" in _shown(shown.stdout)
    assert "12.25" in shown.stdout and "mobilenet_v2" in shown.stdout
    assert f"perseus report {ids['invalid']} --export csv" in _shown(shown.stdout)
    empty = _cli("report", str(ids["empty"]), "--db", db)
    assert empty.returncode != 0 and len(empty.stderr.strip().splitlines()) == 1
    assert "stored no trial to report" in empty.stderr


def test_bench_report_table() -> None:
    store_summary = {
        "a": {"offered_rps": 20.0, "throughput_rps": 19.5, "p95_ms": 31.0, "late_fraction": 0.01}
    }
    data = bench_table(
        _row(spec={"mode": "open", "url": "h:9"}),
        [_trial(TrialSummary(store_summary), "valid")],
    )
    assert data.rows[0][:3] == plain("a", "20.0", "19.5") and data.rows[0][7].text == "1.0%"
    assert data.notes[0] == Cell("VALID", "good") and "open loop at h:9" in data.title
    # A run stored before the input data was a setting sent standard normal values; a later one says.
    assert data.notes[1].text.startswith("inputs: normal (standard normal")
    zeros = bench_table(_row(spec={"mode": "open", "url": "h:9", "inputs": "zeros"}), [])
    assert zeros.notes == [Cell("inputs: zeros (all zeros)")]
    rates = [{"tenant": "a", "rate_rps": 20.0}, {"tenant": "b", "rate_rps": 5.5}]
    assert (
        "open loop, 25.5 req/s at h:9"
        in bench_table(
            _row({"mode": "open", "rates": rates, "url": "h:9"}),
            [_trial(TrialSummary(store_summary), "valid")],
        ).title
    )


def test_a_sweep_reports_each_level_and_its_worst_verdict() -> None:
    from perseus.store import TrialRow

    levels = {"bench c=1": "valid", "bench c=3": "invalid"}
    _unstable = (Reason(Why.UNSTABLE, "unstable"),)
    trials = [
        TrialRow(i, 3, name, {}, status, _unstable if status == "invalid" else (), TrialSummary({"a": {}}))
        for i, (name, status) in enumerate(levels.items())
    ]
    run = _row({"mode": "closed", "concurrency": 1, "levels": list(levels), "url": "h:9"})
    data = bench_table(run, trials)
    assert data.columns[:2] == ["load", "model"] and [r[0].text for r in data.rows] == ["c=1", "c=3"]
    assert [n.text for n in data.notes][:2] == ["c=1: VALID", "c=3: INVALID: unstable"]
    assert "closed-loop sweep c=1 … c=3 at h:9" in data.title
    line = run_line(run, trials)
    assert (line.name, line.verdict.text) == ("closed-loop sweep c=1 … c=3", "INVALID")


def _row(spec: dict[str, Any]) -> Any:
    from perseus.store import RunRow

    return RunRow(3, "bench", spec, {}, "done", None, "2026-01-01T00:00:00+00:00", None)


def _trial(summary: TrialSummary, status: str) -> Any:
    from perseus.store import TrialRow

    return TrialRow(1, 3, "bench", {}, status, (), summary)


def test_a_frontier_report_writes_the_csv_savings_reads(tmp_path: Path) -> None:
    results = sample_results()
    written = write_report(results, tmp_path)
    ((path, use),) = written.data
    assert path == tmp_path / "frontier.csv" and "perseus savings --frontier" in use
    fig2 = results.findings.fig2
    found = frontier_savings(read_frontier(path), {}, None)
    assert found.models == fig2.models
    assert found.peaks == pytest.approx(fig2.peaks)
    assert found.max_saving == pytest.approx(fig2.best.saving, abs=1e-3)  # the CSV has the points measured
    assert write_report(every_kind()[1], tmp_path / "qos").data == []  # only a frontier has one
