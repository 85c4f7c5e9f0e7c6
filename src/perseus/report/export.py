"""Raw data of a stored run as files other tools read: trials (one row per trial × tenant with its
summary numbers), every request record and every telemetry sample, as CSV or Parquet, plus run.json."""

import csv
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from perseus.core.errors import ConfigError
from perseus.core.files import replacing
from perseus.store import Store, TrialRow
from perseus.store.summary import OTHER_CORES, SPEED_END, SPEED_START, STEAL_CORES

Format = Literal["csv", "parquet"]
ColumnType = Literal["int", "float", "str", "bool"]

# Column name → type, in file order. The types make Parquet columns typed even when a run has no rows.
TRIAL_COLUMNS: dict[str, ColumnType] = {
    "run_id": "int",
    "trial_id": "int",
    "name": "str",
    "status": "str",
    "reason": "str",
    "phase": "str",
    "label": "str",
    "placement": "str",
    "models": "str",
    "tenant": "str",  # "*": every tenant of the trial together
    "model": "str",
    "offered_rps": "float",
    "throughput_rps": "float",
    "requests": "int",
    "errors": "int",
    "mean_ms": "float",
    "p50_ms": "float",
    "p90_ms": "float",
    "p95_ms": "float",
    "p99_ms": "float",
    "p99_9_ms": "float",
    "max_ms": "float",
    "late_fraction": "float",
    "sla": "str",
    "sla_met": "bool",
    "qos_satisfaction": "float",
    # How the host was while the trial ran (TrialSummary.host), on each of its rows; empty when not recorded.
    OTHER_CORES: "float",
    STEAL_CORES: "float",
    SPEED_START: "float",
    SPEED_END: "float",
}
HOST_COLUMNS = (OTHER_CORES, STEAL_CORES, SPEED_START, SPEED_END)
REQUEST_COLUMNS: dict[str, ColumnType] = {
    "trial_id": "int",
    "tenant": "str",
    "intended_ns": "int",
    "send_ns": "int",
    "done_ns": "int",
    "ok": "bool",
    "error": "str",
}
TELEMETRY_COLUMNS: dict[str, ColumnType] = {
    "trial_id": "int",
    "t_ns": "int",
    "source": "str",
    "tenant": "str",
    "metric": "str",
    "value": "float",
}

Row = dict[str, Any]


def _key_cells(trial: TrialRow) -> Row:
    """What an experiment trial was (from its typed key): its placement, purpose and models."""
    key = trial.key
    if key is None:
        return {"phase": None, "label": None, "placement": None, "models": None}
    params = ", ".join(f"{k}={v}" for k, v in sorted(key.params.items()))
    return {
        "phase": key.placement.label(),
        "label": key.purpose + (f" ({params})" if params else ""),
        "placement": key.placement.role,
        "models": ";".join(f"{t}={m}" for t, m in key.placement.tenants),
    }


def trial_rows(run_id: int, trial: TrialRow) -> list[Row]:
    key = trial.key
    base: Row = {
        "run_id": run_id,
        "trial_id": trial.id,
        "name": trial.name,
        "status": trial.status,
        "reason": trial.reason,
        **_key_cells(trial),
        **{k: trial.summary.host.get(k) for k in HOST_COLUMNS},
    }
    if not trial.summary.tenants:  # a failed trial may have no summary; it still gets its row
        return [base]
    rows = []
    for tenant, s in trial.summary.tenants.items():
        row = dict(base, tenant=tenant, model=key.placement.model_of(tenant) if key else None)
        row.update({k: s.get(k) for k in TRIAL_COLUMNS if k in s})
        if row.get("offered_rps") is None and key is not None and tenant in key.offered:
            row["offered_rps"] = key.offered[tenant]
        rows.append(row)
    return rows


def _requests(store: Store, trials: list[TrialRow]) -> Iterator[list[Row]]:
    """One batch per trial, so a large run is never in memory all at once."""
    for trial in trials:
        yield [
            {
                "trial_id": trial.id,
                "tenant": r.tenant,
                "intended_ns": r.intended_ns,
                "send_ns": r.send_ns,
                "done_ns": r.done_ns,
                "ok": r.ok,
                "error": r.error,
            }
            for r in store.trial_records(trial.id).records
        ]


def _telemetry(store: Store, trials: list[TrialRow]) -> Iterator[list[Row]]:
    for trial in trials:
        yield [
            {
                "trial_id": trial.id,
                "t_ns": s.t_ns,
                "source": s.source,
                "tenant": s.tenant,
                "metric": s.metric,
                "value": None if math.isnan(s.value) else s.value,
            }
            for s in store.telemetry(trial.id)
        ]


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""  # CSV has no null; an empty cell reads back as missing in pandas and spreadsheets
    return value


def _write_csv(path: Path, columns: dict[str, ColumnType], batches: Iterable[list[Row]]) -> None:
    with replacing(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for batch in batches:
            writer.writerows([_csv_value(row.get(c)) for c in columns] for row in batch)


def _write_parquet(path: Path, columns: dict[str, ColumnType], batches: Iterable[list[Row]]) -> None:
    # Imported here: pyarrow takes a while to load and only this export needs it.
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    with replacing(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for batch in batches:
            if batch:
                writer.write_table(pa.Table.from_pylist(_typed(batch, columns), schema=schema))
        # The writer has closed the file: only a complete Parquet file is renamed into place.


def _typed(batch: list[Row], columns: dict[str, ColumnType]) -> list[Row]:
    """Values as their column's type (a summary may hold an int where a float column is declared)."""
    cast = {"int": int, "float": float, "str": str, "bool": bool}
    return [
        {c: None if row.get(c) is None else cast[kind](row[c]) for c, kind in columns.items()}
        for row in batch
    ]


def export_run(store: Store, run_id: int, out_dir: Path, fmt: Format) -> list[Path]:
    """Write run-<id>-{trials,requests,telemetry}.<csv|parquet> and run-<id>.json (spec, provenance,
    status) into out_dir; returns the paths written."""
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format must be csv or parquet, got {fmt!r}")
    run = store.run(run_id)
    trials = store.trials(run_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    write = _write_csv if fmt == "csv" else _write_parquet
    paths = []
    for table, columns, batches in (
        ("trials", TRIAL_COLUMNS, [[row for trial in trials for row in trial_rows(run_id, trial)]]),
        ("requests", REQUEST_COLUMNS, _requests(store, trials)),
        ("telemetry", TELEMETRY_COLUMNS, _telemetry(store, trials)),
    ):
        path = out_dir / f"run-{run_id}-{table}.{fmt}"
        write(path, columns, batches)
        paths.append(path)
    meta = out_dir / f"run-{run_id}.json"
    with replacing(meta) as tmp:
        run_info = {
            "id": run.id,
            "kind": run.kind,
            "status": run.status,
            "reason": run.reason,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "spec": run.spec,
            "provenance": run.provenance,
        }
        tmp.write_text(json.dumps(run_info, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    paths.append(meta)
    return paths
