"""SQLite results store: runs (spec + provenance), trials, raw per-request records."""

from perseus.store.db import RunRow, Store, TrialRow

__all__ = ["RunRow", "Store", "TrialRow"]
