"""Table definitions of the results store; bump SCHEMA_VERSION on any change."""

import sqlite3
from collections.abc import Callable

from perseus.store.legacy import upgrade_to_4
from perseus.store.legacy_verdicts import REASONS_COLUMN, upgrade_to_5

SCHEMA_VERSION = 5

# Telemetry samples of a trial (perseus.telemetry.Sample); also created by the migration to version 3.
TELEMETRY_TABLE = """CREATE TABLE IF NOT EXISTS telemetry (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    t_ns INTEGER NOT NULL,           -- monotonic clock, the same as the request rows' times
    source TEXT NOT NULL,            -- process, host, triton, gpu:<index>
    tenant TEXT,                     -- tenant (Triton model name); NULL for host-wide values
    metric TEXT NOT NULL,            -- cpu_s, cpu_percent, rss_bytes, queue_duration_us, ...
    value REAL                       -- NULL stands for NaN (SQLite stores no NaN)
)"""
TELEMETRY_INDEX = "CREATE INDEX IF NOT EXISTS telemetry_by_trial ON telemetry (trial_id)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,              -- experiment, bench, ...
    spec_json TEXT NOT NULL,         -- the settings the run was asked for
    provenance_json TEXT NOT NULL,   -- host facts, software versions, git sha, command
    status TEXT NOT NULL,            -- running, done, failed, interrupted
    reason TEXT,
    started_at TEXT NOT NULL,        -- UTC ISO-8601 wall clock, provenance only
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,              -- unique within a run; a finished trial is never re-run
    spec_json TEXT NOT NULL,         -- load settings, and an experiment trial's typed key (store.keys)
    status TEXT NOT NULL,            -- valid, invalid, failed
    reason TEXT,                     -- the reasons as one line, as reports print them
    reasons_json TEXT,               -- the reasons typed, as JSON: kind, text, figures (core.reasons)
    start_ns INTEGER NOT NULL,       -- monotonic clock of the load generator
    window_start_ns INTEGER NOT NULL,
    window_end_ns INTEGER NOT NULL,
    summary_json TEXT NOT NULL,      -- store.summary.TrialSummary, derived from the request rows
    finished_at TEXT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE TABLE IF NOT EXISTS requests (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    tenant TEXT NOT NULL,
    intended_ns INTEGER NOT NULL,    -- when the schedule meant to send it (latency counts from here)
    send_ns INTEGER NOT NULL,
    done_ns INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS requests_by_trial ON requests (trial_id);
{TELEMETRY_TABLE};
{TELEMETRY_INDEX};
"""

# Each step takes a store from version N-1 to N: SQL statements, or a function over the connection.
MIGRATIONS: dict[int, list[str | Callable[[sqlite3.Connection], None]]] = {
    2: [
        "ALTER TABLE requests ADD COLUMN intended_ns INTEGER",
        "UPDATE requests SET intended_ns = send_ns WHERE intended_ns IS NULL",
    ],
    3: [TELEMETRY_TABLE, TELEMETRY_INDEX],
    4: [upgrade_to_4],  # typed trial keys and summaries (store.legacy)
    5: [REASONS_COLUMN, upgrade_to_5],  # typed verdict reasons, and the rules old trials were judged by
}
