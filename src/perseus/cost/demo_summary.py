"""Turn a stored demo run into dedicated peaks, the shared operating point, $ per 1M and the saving."""

from dataclasses import dataclass
from typing import Any

from perseus.core.errors import SlaNotMetError
from perseus.cost.saving import cost_per_million_usd, sharing_saving
from perseus.store import Store, TrialRow


@dataclass(frozen=True)
class ModelRow:
    model: str
    dedicated_rps: float
    dedicated_p95_ms: float
    dedicated_concurrency: int
    shared_rps: float
    shared_p95_ms: float
    dedicated_usd_per_1m: float
    shared_usd_per_1m: float
    dedicated_valid: bool = True
    shared_valid: bool = True


@dataclass(frozen=True)
class DemoSummary:
    run_id: int
    rows: list[ModelRow]
    shared_concurrency: int
    saving: float  # 1 − 1/Σ r/λ (fraction; negative means sharing loses)
    sla_p95_ms: float
    price_usd_per_h: float
    machine: str
    provenance: dict[str, Any]
    warnings: list[str]  # numbers taken from INVALID trials, with the reasons


def _meets(trial: TrialRow, sla_ms: float) -> bool:
    return all(
        trial.summary[t]["requests"] > 0
        and trial.summary[t]["p95_ms"] <= sla_ms
        and trial.summary[t]["errors"] == 0
        for t in trial.spec["tenants"]
    )


def _best(trials: list[TrialRow], sla_ms: float, what: str, warnings: list[str]) -> TrialRow:
    """The highest-throughput trial meeting the SLA; VALID ones first.

    On a noisy host every level may come out INVALID (unstable windows): then the best INVALID one is
    used and a warning with its reason goes next to the numbers instead of hiding them.
    """
    # A FAILED trial ran on a broken server (a stub died): its numbers describe the fault, not the model.
    meeting = [t for t in trials if t.status != "failed" and _meets(t, sla_ms)]
    if not meeting:
        raise SlaNotMetError(f"{what}: no load level met p95 ≤ {sla_ms:g} ms (tried {len(trials)})")
    valid = [t for t in meeting if t.status == "valid"]
    best = max(valid or meeting, key=lambda t: t.summary["*"]["throughput_rps"])
    if best.status != "valid":
        warnings.append(f"{what} ({best.name}) is from an INVALID trial: {best.reason}")
    return best


def summarize_demo(store: Store, run_id: int) -> DemoSummary:
    run = store.run(run_id)
    spec = run.spec
    sla, price = float(spec["sla_p95_ms"]), float(spec["price_usd_per_h"])
    trials = store.trials(run_id)
    models = list(spec["models"])
    warnings: list[str] = []
    dedicated = {
        m: _best(
            [t for t in trials if t.spec["placement"] == "dedicated" and t.spec["models"] == [m]],
            sla,
            f"{m} dedicated",
            warnings,
        )
        for m in models
    }
    shared = _best([t for t in trials if t.spec["placement"] == "multitenant"], sla, "multi-tenant", warnings)
    # Trials record which Triton model name (tenant) served each model spec.
    peak = {m: dedicated[m].summary[dedicated[m].spec["tenants"][0]] for m in models}
    mixed = {m: shared.summary[shared.spec["tenants"][i]] for i, m in enumerate(models)}
    peaks = {m: float(peak[m]["throughput_rps"]) for m in models}
    rates = {m: float(mixed[m]["throughput_rps"]) for m in models}
    shared_total = sum(rates.values())
    rows = [
        ModelRow(
            model=m,
            dedicated_rps=peaks[m],
            dedicated_p95_ms=float(peak[m]["p95_ms"]),
            dedicated_concurrency=int(dedicated[m].spec["concurrency"]),
            shared_rps=rates[m],
            shared_p95_ms=float(mixed[m]["p95_ms"]),
            dedicated_usd_per_1m=cost_per_million_usd(price, peaks[m]),
            shared_usd_per_1m=cost_per_million_usd(price, shared_total),
            dedicated_valid=dedicated[m].status == "valid",
            shared_valid=shared.status == "valid",
        )
        for m in models
    ]
    return DemoSummary(
        run_id=run_id,
        rows=rows,
        shared_concurrency=int(shared.spec["concurrency"]),
        saving=sharing_saving(rates, peaks),
        sla_p95_ms=sla,
        price_usd_per_h=price,
        machine=str(spec["machine"]),
        provenance=run.provenance,
        warnings=warnings,
    )
