"""Load generation: schedules (when), the asyncio sender (how), records and their summaries (what)."""

from perseus.core.seeds import derive_seed
from perseus.core.sla import SlaTarget, parse_sla
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules, verdict
from perseus.loadgen.runner import run_load
from perseus.loadgen.schedule import Arrival, TenantRate, open_loop, read_trace
from perseus.loadgen.spec import LoadSpec
from perseus.loadgen.summary import ALL, LatencySummary, summarize

__all__ = [
    "ALL",
    "Arrival",
    "LatencySummary",
    "LoadSpec",
    "RequestRecord",
    "SlaTarget",
    "TenantRate",
    "TrialRecords",
    "TrialRules",
    "derive_seed",
    "open_loop",
    "parse_sla",
    "read_trace",
    "run_load",
    "summarize",
    "verdict",
]
