"""The results store keeps runs, trials and every request record."""

from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.loadgen import RequestRecord, TrialRecords
from perseus.store import Store, TrialSummary


def test_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        run_id = store.create_run("demo", {"a": 1}, {"git_sha": "abc"})
        trial = TrialRecords(
            1, 2, 3, [RequestRecord("m", 2, 2, 5, True), RequestRecord("m", 3, 3, 4, False, "boom")]
        )
        trial_id = store.save_trial(
            run_id, "t1", {"c": 1}, trial, TrialSummary({"*": {"requests": 1}}), "valid"
        )
        store.finish_run(run_id, "done")
    with Store(tmp_path / "r.db") as store:
        run = store.run(run_id)
        assert (run.kind, run.status, run.spec, run.provenance) == (
            "demo",
            "done",
            {"a": 1},
            {"git_sha": "abc"},
        )
        assert run.finished_at is not None
        [row] = store.trials(run_id)
        assert (row.name, row.status, row.summary.tenants) == ("t1", "valid", {"*": {"requests": 1}})
        back = store.trial_records(trial_id)
        assert back.records == sorted(trial.records, key=lambda r: r.intended_ns)
        assert (back.start_ns, back.window_start_ns, back.window_end_ns) == (1, 2, 3)


def test_trial_names_unique_within_run(tmp_path: Path) -> None:
    import sqlite3

    with Store(tmp_path / "r.db") as store:
        run_id = store.create_run("demo", {}, {})
        store.save_trial(run_id, "t", {}, TrialRecords(0, 0, 1), TrialSummary(), "valid")
        with pytest.raises(sqlite3.IntegrityError):
            store.save_trial(run_id, "t", {}, TrialRecords(0, 0, 1), TrialSummary(), "valid")


def test_missing_run_and_bad_file(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store, pytest.raises(ConfigError, match="no run 7"):
        store.run(7)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite" * 100)
    with pytest.raises(ConfigError, match="cannot use results store"):
        Store(bad)


def test_version_1_store_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
        " spec_json TEXT NOT NULL, provenance_json TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,"
        " started_at TEXT NOT NULL, finished_at TEXT);"
        "CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL,"
        " name TEXT NOT NULL,"
        " spec_json TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, start_ns INTEGER NOT NULL,"
        " window_start_ns INTEGER NOT NULL, window_end_ns INTEGER NOT NULL, summary_json TEXT NOT NULL,"
        " finished_at TEXT NOT NULL, UNIQUE (run_id, name));"
        "CREATE TABLE requests (trial_id INTEGER NOT NULL, tenant TEXT NOT NULL,"
        " send_ns INTEGER NOT NULL,"
        " done_ns INTEGER NOT NULL, ok INTEGER NOT NULL, error TEXT);"
        "INSERT INTO runs VALUES (1, 'bench', '{}', '{}', 'done', NULL, 'x', 'y');"
        "INSERT INTO trials VALUES (1, 1, 't', '{}', 'valid', NULL, 0, 0, 10, '{}', 'z');"
        "INSERT INTO requests VALUES (1, 'm', 5, 9, 1, NULL);"
    )
    db.commit()
    db.close()
    with Store(path) as store:
        [record] = store.trial_records(1).records
        assert (record.intended_ns, record.send_ns, record.done_ns) == (5, 5, 9)


@pytest.mark.parametrize(
    ("raised", "status"),
    [(None, "done"), (ConfigError("bad"), "failed"), (KeyboardInterrupt(), "interrupted")],
)
def test_recording_ends_the_run_and_keeps_its_trials(
    tmp_path: Path, raised: BaseException | None, status: str
) -> None:
    with Store(tmp_path / "r.db") as store:
        try:
            with store.recording("bench", {}, {}) as run_id:
                store.save_trial(run_id, "t", {}, TrialRecords(0, 0, 1), TrialSummary(), "valid")
                if raised is not None:
                    raise raised
        except (ConfigError, KeyboardInterrupt):
            pass
        run = store.run(run_id)
        assert run.status == status and run.finished_at is not None
        assert (run.reason == "bad") if status == "failed" else True
        assert [t.name for t in store.trials(run_id)] == ["t"]
