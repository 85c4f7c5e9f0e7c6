"""Raw per-request records of one trial (defined in core.records, where the store reads them too)."""

from perseus.core.records import RequestRecord, TrialRecords

__all__ = ["RequestRecord", "TrialRecords"]
