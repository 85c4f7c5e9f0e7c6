"""The results store keeps telemetry samples per trial, and brings version-2 stores up to version 3."""

import math
import sqlite3
from pathlib import Path

import pytest

from perseus.loadgen import TrialRecords
from perseus.store import Store, TrialSummary
from perseus.store.schema import SCHEMA_VERSION
from perseus.telemetry import Sample


def _trial(store: Store, name: str = "t") -> int:
    run_id = store.create_run("bench", {}, {})
    return store.save_trial(run_id, name, {}, TrialRecords(0, 0, 1), TrialSummary(), "valid")


def test_telemetry_round_trip_in_time_order(tmp_path: Path) -> None:
    samples = [
        Sample(20, "process", "a", "cpu_s", 1.5),
        Sample(10, "process", "a", "cpu_s", 0.0),
        Sample(10, "host", None, "cpu_percent", 12.5),
        Sample(20, "triton", "a", "queue_duration_us", math.inf),
        Sample(20, "gpu:0", None, "utilization_percent", math.nan),
    ]
    with Store(tmp_path / "r.db") as store:
        trial_id, other = _trial(store), _trial(store, "u")
        assert store.save_telemetry(trial_id, iter(samples)) == 5
        store.save_telemetry(other, [(5, "host", None, "cpu_percent", 1.0)])  # plain tuples do too
    with Store(tmp_path / "r.db") as store:
        back = store.telemetry(trial_id)
        assert back[:4] == [samples[1], samples[2], samples[0], samples[3]]  # by time, then as taken
        assert back[4][:4] == samples[4][:4] and math.isnan(back[4].value)  # NaN comes back as NaN
        assert store.telemetry(other) == [Sample(5, "host", None, "cpu_percent", 1.0)]
        assert store.telemetry(999) == []


def test_save_telemetry_is_one_transaction(tmp_path: Path) -> None:
    def rows() -> object:
        yield (1, "host", None, "cpu_percent", 1.0)
        raise RuntimeError("sampler broke")

    with Store(tmp_path / "r.db") as store:
        trial_id = _trial(store)
        with pytest.raises(RuntimeError):
            store.save_telemetry(trial_id, rows())  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):  # metric is NOT NULL: the whole batch is refused
            store.save_telemetry(trial_id, [(1, "host", None, "a", 1.0), (2, "host", None, None, 2.0)])  # type: ignore[list-item]
        assert store.telemetry(trial_id) == []


def _version_2_store(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '2');"
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
        " spec_json TEXT NOT NULL, provenance_json TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,"
        " started_at TEXT NOT NULL, finished_at TEXT);"
        "CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL,"
        " name TEXT NOT NULL, spec_json TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,"
        " start_ns INTEGER NOT NULL, window_start_ns INTEGER NOT NULL, window_end_ns INTEGER NOT NULL,"
        " summary_json TEXT NOT NULL, finished_at TEXT NOT NULL, UNIQUE (run_id, name));"
        "CREATE TABLE requests (trial_id INTEGER NOT NULL, tenant TEXT NOT NULL,"
        " intended_ns INTEGER NOT NULL, send_ns INTEGER NOT NULL, done_ns INTEGER NOT NULL,"
        " ok INTEGER NOT NULL, error TEXT);"
        "CREATE INDEX requests_by_trial ON requests (trial_id);"
        "INSERT INTO runs VALUES (1, 'bench', '{}', '{}', 'done', NULL, 'x', 'y');"
        "INSERT INTO trials VALUES (1, 1, 't', '{}', 'valid', NULL, 0, 0, 10, '{}', 'z');"
        "INSERT INTO requests VALUES (1, 'm', 4, 5, 9, 1, NULL);"
    )
    db.commit()
    db.close()


def test_version_2_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_2_store(path)
    with Store(path) as store:
        [record] = store.trial_records(1).records
        assert (record.intended_ns, record.send_ns, record.done_ns) == (4, 5, 9)
        assert store.telemetry(1) == []
        store.save_telemetry(1, [Sample(7, "host", None, "cpu_percent", 50.0)])
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    db.close()
    assert int(version) == SCHEMA_VERSION == 5
    assert "telemetry_by_trial" in indexes
    with Store(path) as store:  # opening again changes nothing
        assert store.telemetry(1) == [Sample(7, "host", None, "cpu_percent", 50.0)]
