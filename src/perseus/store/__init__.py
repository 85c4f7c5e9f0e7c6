"""SQLite results store: runs (spec + provenance), trials (typed key, summary), raw per-request records,
telemetry samples."""

from perseus.store.db import RunRow, Store, TrialRow, TrialSink
from perseus.store.keys import Placement, TrialKey
from perseus.store.summary import TrialSummary

__all__ = ["Placement", "RunRow", "Store", "TrialKey", "TrialRow", "TrialSink", "TrialSummary"]
