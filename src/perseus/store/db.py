"""Read and write the results store; every write is one transaction."""

import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from perseus.core.errors import ConfigError, PerseusError
from perseus.core.reasons import Reason, reasons_from_json, reasons_json, text_of
from perseus.core.records import RequestRecord, Sample, TrialRecords
from perseus.store.keys import TrialKey
from perseus.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from perseus.store.summary import TrialSummary

TelemetryRow = tuple[int, str, str | None, str, float]  # t_ns, source, tenant, metric, value (a Sample)


def _telemetry_rows(trial_id: int, samples: Iterable[TelemetryRow]) -> list[tuple[Any, ...]]:
    return [
        (trial_id, t_ns, source, tenant, metric, None if math.isnan(value) else value)
        for t_ns, source, tenant, metric, value in samples
    ]


class TrialSink(Protocol):
    """Where a measured trial goes: the store, or on a Ray node the message back to the driver."""

    def save_trial(
        self,
        run_id: int,
        name: str,
        spec: dict[str, Any],
        trial: TrialRecords,
        summary: TrialSummary,
        status: str,
        reasons: Sequence[Reason] = (),
        telemetry: Iterable[TelemetryRow] = (),
    ) -> int: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRow:
    id: int
    kind: str
    spec: dict[str, Any]
    provenance: dict[str, Any]
    status: str
    reason: str | None
    started_at: str
    finished_at: str | None


@dataclass(frozen=True)
class TrialRow:
    id: int
    run_id: int
    name: str
    spec: dict[str, Any]
    status: str
    reasons: tuple[Reason, ...]  # why it is not VALID, typed (core.reasons)
    summary: TrialSummary

    @property
    def reason(self) -> str | None:
        """The reasons as one line, as reports print them."""
        return text_of(self.reasons)

    @cached_property
    def key(self) -> TrialKey | None:
        """The typed key of an experiment trial (None for a bench trial); parsed once per row, since an
        analysis reads every row's key for each placement it looks up."""
        data = self.spec.get("key")
        return TrialKey.from_json(data) if data is not None else None


class Store:
    """One SQLite file per workspace. Safe to share between threads (a Ray driver's placements each
    report from their own thread): every statement and transaction holds the store's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._migrate()
            self._db.executescript(SCHEMA)
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot use results store {path}: {exc}") from None

    def _migrate(self) -> None:
        """Bring an older store up to SCHEMA_VERSION, in one transaction."""
        has_meta = self._db.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        if not has_meta:
            return
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise ConfigError(f"results store {self.path} was written by a newer perseus (schema {version})")
        with self._db:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS.get(step, []):
                    if callable(statement):
                        statement(self._db)
                    else:
                        self._db.execute(statement)
                self._db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(step),))

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection, for the store's own modules (merge.py) that work on whole tables."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _row(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def create_run(self, kind: str, spec: dict[str, Any], provenance: dict[str, Any]) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (kind, spec_json, provenance_json, status, started_at) VALUES (?,?,?,?,?)",
                (
                    kind,
                    json.dumps(spec, sort_keys=True),
                    json.dumps(provenance, sort_keys=True),
                    "running",
                    _now(),
                ),
            )
            return int(cur.lastrowid or 0)

    @contextmanager
    def recording(
        self, kind: str, spec: dict[str, Any], provenance: dict[str, Any], resume: int | None = None
    ) -> Iterator[int]:
        """A new run (or the run `resume`, reopened) for the block; it ends done, failed (with the error)
        or interrupted.

        Trials saved inside the block stay whatever happens: finished work is never lost.
        """
        if resume is None:
            run_id = self.create_run(kind, spec, provenance)
        else:
            run_id = resume
            self.reopen_run(run_id)
        try:
            yield run_id
        except PerseusError as exc:
            self.finish_run(run_id, "failed", str(exc))
            raise
        except BaseException:
            self.finish_run(run_id, "interrupted", "stopped before the end; finished trials are kept")
            raise
        self.finish_run(run_id, "done")

    def amend_run_spec(self, run_id: int, **fields: Any) -> None:
        """Add what became known only once the run started (e.g. the URL a started server got)."""
        spec = {**self.run(run_id).spec, **fields}
        with self._tx() as db:
            db.execute("UPDATE runs SET spec_json=? WHERE id=?", (json.dumps(spec, sort_keys=True), run_id))

    def finish_run(self, run_id: int, status: str, reason: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=?, finished_at=? WHERE id=?",
                (status, reason, _now(), run_id),
            )

    def save_trial(
        self,
        run_id: int,
        name: str,
        spec: dict[str, Any],
        trial: TrialRecords,
        summary: TrialSummary,
        status: str,
        reasons: Sequence[Reason] = (),
        telemetry: Iterable[TelemetryRow] = (),
    ) -> int:
        """Store a finished trial with all its request records and telemetry samples, atomically; its
        reasons typed (for the judge) and as the line reports print."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO trials (run_id, name, spec_json, status, reason, reasons_json, start_ns,"
                " window_start_ns, window_end_ns, summary_json, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    name,
                    json.dumps(spec, sort_keys=True),
                    status,
                    text_of(reasons),
                    json.dumps(reasons_json(reasons)),
                    trial.start_ns,
                    trial.window_start_ns,
                    trial.window_end_ns,
                    json.dumps(summary.to_json(), sort_keys=True),
                    _now(),
                ),
            )
            trial_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO requests (trial_id, tenant, intended_ns, send_ns, done_ns, ok, error)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (trial_id, r.tenant, r.intended_ns, r.send_ns, r.done_ns, int(r.ok), r.error)
                    for r in trial.records
                ],
            )
            db.executemany(
                "INSERT INTO telemetry (trial_id, t_ns, source, tenant, metric, value) VALUES (?,?,?,?,?,?)",
                _telemetry_rows(trial_id, telemetry),
            )
            return trial_id

    def run(self, run_id: int) -> RunRow:
        row = self._row(
            "SELECT id, kind, spec_json, provenance_json, status, reason, started_at,"
            " finished_at FROM runs WHERE id=?",
            (run_id,),
        )
        if row is None:
            raise ConfigError(f"no run {run_id} in {self.path}")
        return RunRow(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4], row[5], row[6], row[7])

    def runs(self) -> list[RunRow]:
        ids = [r[0] for r in self._rows("SELECT id FROM runs ORDER BY id")]
        return [self.run(i) for i in ids]

    _TRIAL_COLUMNS = "SELECT id, run_id, name, spec_json, status, reasons_json, summary_json FROM trials"

    @staticmethod
    def _trial_row(r: tuple[Any, ...]) -> TrialRow:
        reasons = reasons_from_json(json.loads(r[5]) if r[5] else [])
        summary = TrialSummary.from_json(json.loads(r[6]))
        return TrialRow(r[0], r[1], r[2], json.loads(r[3]), r[4], reasons, summary)

    def trials(self, run_id: int) -> list[TrialRow]:
        rows = self._rows(f"{self._TRIAL_COLUMNS} WHERE run_id=? ORDER BY id", (run_id,))
        return [self._trial_row(r) for r in rows]

    def trial_named(self, run_id: int, name: str) -> TrialRow | None:
        """The finished trial of that name in the run, if any: what a resumed experiment skips."""
        row = self._row(f"{self._TRIAL_COLUMNS} WHERE run_id=? AND name=?", (run_id, name))
        return None if row is None else self._trial_row(row)

    def find_run(self, kind: str, spec: dict[str, Any]) -> RunRow | None:
        """The latest run of this kind with exactly this spec (to resume or reuse it)."""
        row = self._row(
            "SELECT id FROM runs WHERE kind=? AND spec_json=? ORDER BY id DESC LIMIT 1",
            (kind, json.dumps(spec, sort_keys=True)),
        )
        return None if row is None else self.run(int(row[0]))

    def reopen_run(self, run_id: int) -> None:
        """Mark an interrupted or failed run as running again; its finished trials stay as they are."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status='running', reason=NULL, finished_at=NULL WHERE id=?", (run_id,)
            )

    def trial_records(self, trial_id: int) -> TrialRecords:
        head = self._row(
            "SELECT start_ns, window_start_ns, window_end_ns FROM trials WHERE id=?", (trial_id,)
        )
        if head is None:
            raise ConfigError(f"no trial {trial_id} in {self.path}")
        records = [
            RequestRecord(t, i, s, d, bool(ok), e)
            for t, i, s, d, ok, e in self._rows(
                "SELECT tenant, intended_ns, send_ns, done_ns, ok, error FROM requests WHERE trial_id=?"
                " ORDER BY intended_ns",
                (trial_id,),
            )
        ]
        return TrialRecords(head[0], head[1], head[2], records)

    def save_telemetry(self, trial_id: int, samples: Iterable[TelemetryRow]) -> int:
        """Store a trial's telemetry samples (t_ns, source, tenant, metric, value) in one transaction;
        returns how many were written."""
        rows = _telemetry_rows(trial_id, samples)
        with self._tx() as db:
            db.executemany(
                "INSERT INTO telemetry (trial_id, t_ns, source, tenant, metric, value) VALUES (?,?,?,?,?,?)",
                rows,
            )
        return len(rows)

    def telemetry(self, trial_id: int) -> list[Sample]:
        """A trial's telemetry samples in time order (in the order they were taken within one instant)."""
        return [
            Sample(t_ns, source, tenant, metric, math.nan if value is None else value)
            for t_ns, source, tenant, metric, value in self._rows(
                "SELECT t_ns, source, tenant, metric, value FROM telemetry WHERE trial_id=?"
                " ORDER BY t_ns, rowid",
                (trial_id,),
            )
        ]
