"""SQLite results store: runs (spec + provenance), trials, raw per-request records, telemetry samples."""

from perseus.store.db import RunRow, Store, TrialRow

__all__ = ["RunRow", "Store", "TrialRow"]
