"""Hand-made stored trial rows for the analyses: one feasible probe per λ, under the key the kind writes,
so a test states what a run measured and reads back what the kind's pure analysis finds in it."""

from collections.abc import Mapping

from perseus.store import Placement, TrialRow, TrialSummary
from perseus.store.keys import Scalar, TrialKey

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
    return TrialRow(trial_id, 1, key.name(), {"key": key.to_json()}, "valid", None, summary)


def _tenant(where: Placement, model: str) -> str:
    tenant = where.tenant_of(model)
    if tenant is None:
        raise KeyError(f"{model} is not served on {where.label()}")
    return tenant
