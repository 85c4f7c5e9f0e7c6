"""Hand-made stored trial rows for the analyses and the judge: one feasible probe per λ under the key the
kind writes, or one attempt of given latencies summarised as a trial does, so a test states what a run
measured and reads back what the pure analysis finds in it."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from perseus.core.reasons import Reason
from perseus.core.records import RequestRecord, TrialRecords
from perseus.core.sla import parse_sla
from perseus.loadgen.summary import summarize_records
from perseus.store import Placement, TrialRow, TrialSummary
from perseus.store.keys import Scalar, TrialKey

MS = 1_000_000

SLA = "p95 ≤ 100 ms"


def feasible_row(
    trial_id: int, where: Placement, purpose: str, rates: Mapping[str, float], **params: Scalar
) -> TrialRow:
    """A VALID trial on `where` that met every SLA at these offered rates (by model key)."""
    offered = {_tenant(where, model): rate for model, rate in rates.items()}
    key = TrialKey(where, purpose, params, offered)
    summary = TrialSummary(
        {
            t: {"throughput_rps": r, "p95_ms": 60.0, "sla": SLA, "sla_met": True, "qos_satisfaction": 1.0}
            for t, r in offered.items()
        }
    )
    return TrialRow(trial_id, 1, key.name(), {"key": key.to_json()}, "valid", (), summary)


def _tenant(where: Placement, model: str) -> str:
    tenant = where.tenant_of(model)
    if tenant is None:
        raise KeyError(f"{model} is not served on {where.label()}")
    return tenant


def summary_of(latencies_ms: Sequence[float], sla: str = "p95=100ms", tenant: str = "a") -> dict[str, Any]:
    """A tenant's stored summary of these latencies, as a trial writes it (loadgen.summary), under an SLA."""
    records = [
        RequestRecord(tenant, i * MS, i * MS, i * MS + round(latency * MS), True)
        for i, latency in enumerate(latencies_ms)
    ]
    trial = TrialRecords(0, 0, (len(records) + 1) * MS, records)
    return asdict(summarize_records(tenant, records, trial, 2 * MS, parse_sla(sla)))


def measured_row(
    trial_id: int,
    latencies_ms: Sequence[float],
    status: str = "valid",
    reasons: Sequence[Reason] = (),
    attempt: int = 0,
    sla: str = "p95=100ms",
) -> TrialRow:
    """Attempt `attempt` of one probe of tenant `a` alone, its latencies summarised as a trial would."""
    where = Placement("dedicated", (("a", "synthetic-sleep"),))
    key = TrialKey(where, "peak", {"tenant": "a"}, {"a": 10.0}, attempt)
    summary = TrialSummary({"a": summary_of(latencies_ms, sla)})
    return TrialRow(trial_id, 1, key.name(), {"key": key.to_json()}, status, tuple(reasons), summary)
