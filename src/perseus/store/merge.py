"""`perseus runs import OTHER.db`: the runs of a store measured elsewhere (another machine type) copied
into this one, with their trials, request records and telemetry, under new ids. A run already here (same
kind, spec, start time and host) is not copied twice; the source file is never written."""

import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from perseus.core.errors import ConfigError
from perseus.store.db import Store

TRIAL_COLUMNS = (
    "name, spec_json, status, reason, reasons_json, start_ns, window_start_ns, window_end_ns, summary_json,"
    " finished_at"
)


@dataclass(frozen=True)
class Imported:
    copied: dict[int, int]  # run id there → run id here
    already: list[int]  # run ids there that this store holds already


def _identity(kind: str, spec: str, provenance: str, started: str) -> tuple[str, str, str, str]:
    host = json.loads(provenance).get("host") or {}
    return kind, json.dumps(json.loads(spec), sort_keys=True), started, str(host.get("hostname"))


def import_store(store: Store, source: Path) -> Imported:
    if not source.is_file():
        raise ConfigError(f"cannot import {source}: no such file")
    if source.resolve() == store.path.resolve():
        raise ConfigError(f"cannot import {source} into itself")
    with tempfile.TemporaryDirectory(prefix="perseus-import-") as folder:
        copy = Path(folder) / "other.db"
        shutil.copyfile(source, copy)  # opening a store upgrades it: do that to a copy
        with Store(copy):
            pass
        return _merge(store, copy)


def _merge(store: Store, other: Path) -> Imported:
    db = store.connection
    here = {
        _identity(*row) for row in db.execute("SELECT kind, spec_json, provenance_json, started_at FROM runs")
    }
    copied: dict[int, int] = {}
    already: list[int] = []
    try:
        db.execute("ATTACH DATABASE ? AS other", (str(other),))
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"cannot import {other}: {exc}") from None
    try:
        with db:
            rows = db.execute(
                "SELECT id, kind, spec_json, provenance_json, status, reason, started_at, finished_at "
                "FROM other.runs ORDER BY id"
            ).fetchall()
            for old_id, kind, spec, provenance, status, reason, started, finished in rows:
                if _identity(kind, spec, provenance, started) in here:
                    already.append(old_id)
                    continue
                cur = db.execute(
                    "INSERT INTO runs (kind, spec_json, provenance_json, status, reason, started_at,"
                    " finished_at) VALUES (?,?,?,?,?,?,?)",
                    (kind, spec, provenance, status, reason, started, finished),
                )
                new_id = int(cur.lastrowid or 0)
                copied[old_id] = new_id
                _trials(db, old_id, new_id)
    finally:
        db.execute("DETACH DATABASE other")
    return Imported(copied, already)


def _trials(db: sqlite3.Connection, old_run: int, new_run: int) -> None:
    trials = db.execute(
        f"SELECT id, {TRIAL_COLUMNS} FROM other.trials WHERE run_id=? ORDER BY id", (old_run,)
    )
    for old_trial, *values in trials.fetchall():
        cur = db.execute(
            f"INSERT INTO trials (run_id, {TRIAL_COLUMNS}) VALUES ({', '.join('?' * (len(values) + 1))})",
            (new_run, *values),
        )
        new_trial = cur.lastrowid
        db.execute(
            "INSERT INTO requests (trial_id, tenant, intended_ns, send_ns, done_ns, ok, error) "
            "SELECT ?, tenant, intended_ns, send_ns, done_ns, ok, error FROM other.requests WHERE trial_id=?",
            (new_trial, old_trial),
        )
        db.execute(
            "INSERT INTO telemetry (trial_id, t_ns, source, tenant, metric, value) "
            "SELECT ?, t_ns, source, tenant, metric, value FROM other.telemetry WHERE trial_id=?",
            (new_trial, old_trial),
        )
