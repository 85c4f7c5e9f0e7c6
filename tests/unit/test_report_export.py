"""Exports hold exactly what the store holds: one trials row per trial × tenant, every request record, every
telemetry sample; as CSV and as Parquet."""

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.core.reasons import Reason, Why
from perseus.loadgen import RequestRecord, TrialRecords, summarize
from perseus.report import export_run
from perseus.store import Placement, Store, TrialKey, TrialSummary

MS = 1_000_000


def _records(tenants: list[str], n: int) -> TrialRecords:
    records = [
        RequestRecord(
            t,
            i * 10 * MS,
            i * 10 * MS,
            i * 10 * MS + (40 + i) * MS,
            i % 7 != 3,
            None if i % 7 != 3 else "timeout",
        )
        for i in range(n)
        for t in tenants
    ]
    return TrialRecords(0, 0, n * 10 * MS, records)


def _store(path: Path) -> tuple[Store, int, dict[str, int]]:
    """A run with a two-tenant trial, a one-tenant trial and a failed trial without records; a second run
    that must not leak into the export."""
    store = Store(path)
    run_id = store.create_run("experiment", {"name": "x"}, {"git_sha": "abc"})
    expected = {"trials": 0, "requests": 0, "telemetry": 0}
    for name, tenants, n in (("shared", ["resnet50", "mobilenet_v2"], 30), ("dedicated", ["resnet50"], 12)):
        trial = _records(tenants, n)
        per_tenant = {
            t: asdict(s) for t, s in summarize(trial, offered_rps={t: 5.0 for t in tenants}).items()
        }
        summary = TrialSummary(per_tenant, loadgen={"sent": len(trial.records)})
        key = TrialKey(Placement(name, [(t, t) for t in tenants]), "peak", {"tenant": tenants[0]})
        trial_id = store.save_trial(run_id, name, {"key": key.to_json()}, trial, summary, "valid")
        samples = [(k * MS, "process", t, "cpu_s", 0.1 * k) for k in range(4) for t in tenants]
        samples.append((5 * MS, "host", None, "cpu_percent", math.nan))
        store.save_telemetry(trial_id, samples)
        expected["trials"] += len(tenants) + 1  # each tenant and "*"
        expected["requests"] += len(trial.records)
        expected["telemetry"] += len(samples)
    store.save_trial(
        run_id,
        "broken",
        {"key": TrialKey(Placement("shared", [("a", "a"), ("b", "b")]), "peak").to_json()},
        TrialRecords(0, 0, 1),
        TrialSummary(),
        "failed",
        [Reason(Why.SERVER_FAULT, "server died")],
    )
    expected["trials"] += 1
    other = store.create_run("experiment", {}, {})
    store.save_trial(other, "t", {}, _records(["z"], 5), TrialSummary(), "valid")
    return store, run_id, expected


def test_csv_rows_match_the_store(tmp_path: Path) -> None:
    store, run_id, expected = _store(tmp_path / "r.db")
    with store:
        paths = export_run(store, run_id, tmp_path / "out", "csv")
    assert [p.name for p in paths] == [
        f"run-{run_id}-trials.csv",
        f"run-{run_id}-requests.csv",
        f"run-{run_id}-telemetry.csv",
        f"run-{run_id}.json",
    ]
    tables = {}
    for path in paths[:3]:
        with path.open(newline="", encoding="utf-8") as f:
            tables[path.stem.split("-")[-1]] = list(csv.DictReader(f))
    assert {k: len(v) for k, v in tables.items()} == expected
    shared = [r for r in tables["trials"] if r["name"] == "shared" and r["tenant"] == "resnet50"]
    assert len(shared) == 1
    row = shared[0]
    assert row["placement"] == "shared" and row["model"] == "resnet50" and row["offered_rps"] == "5.0"
    assert float(row["p95_ms"]) > 40 and int(row["errors"]) > 0
    assert row["models"] == "mobilenet_v2=mobilenet_v2;resnet50=resnet50"  # a placement sorts its tenants
    assert (row["phase"], row["label"]) == ("shared mobilenet_v2+resnet50", "peak (tenant=resnet50)")
    [broken] = [r for r in tables["trials"] if r["name"] == "broken"]
    assert (broken["status"], broken["reason"], broken["models"], broken["tenant"]) == (
        "failed",
        "server died",
        "a=a;b=b",
        "",
    )
    assert {r["error"] for r in tables["requests"] if r["ok"] == "False"} == {"timeout"}
    assert [r["value"] for r in tables["telemetry"] if r["source"] == "host"] == ["", ""]  # NaN → empty
    meta = json.loads(paths[3].read_text())
    assert meta["provenance"] == {"git_sha": "abc"} and meta["kind"] == "experiment"


def test_parquet_rows_match_the_store(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    store, run_id, expected = _store(tmp_path / "r.db")
    with store:
        paths = export_run(store, run_id, tmp_path / "out", "parquet")
    counts = {p.stem.split("-")[-1]: pq.read_table(p).num_rows for p in paths[:3]}
    assert counts == expected
    requests = pq.read_table(paths[1])
    assert str(requests.schema.field("intended_ns").type) == "int64"
    assert str(requests.schema.field("ok").type) == "bool"
    telemetry = pq.read_table(paths[2]).to_pylist()
    assert [r["value"] for r in telemetry if r["source"] == "host"] == [None, None]
    trials = pq.read_table(paths[0])
    assert str(trials.schema.field("p95_ms").type) == "double"


def test_empty_run_and_bad_input(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        run_id = store.create_run("experiment", {}, {})
        for fmt in ("csv", "parquet"):
            paths = export_run(store, run_id, tmp_path / fmt, fmt)  # type: ignore[arg-type]
            assert all(p.exists() for p in paths)
        with pytest.raises(ConfigError, match="no run 99"):
            export_run(store, 99, tmp_path, "csv")
        with pytest.raises(ConfigError, match="csv or parquet"):
            export_run(store, run_id, tmp_path, "xlsx")  # type: ignore[arg-type]
    assert not list(tmp_path.rglob(".*.tmp"))
