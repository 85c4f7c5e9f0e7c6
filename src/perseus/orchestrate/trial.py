"""One trial: drive load at a running endpoint, judge it VALID/INVALID, store it with every record."""

from dataclasses import asdict, dataclass
from typing import Any

from perseus.core.progress import Reporter
from perseus.loadgen import LatencySummary, LoadSpec, SlaTarget, TrialRules, run_load, summarize, verdict
from perseus.store import Store


@dataclass(frozen=True)
class TrialOutcome:
    trial_id: int
    status: str  # valid | invalid
    reasons: list[str]
    summaries: dict[str, LatencySummary]
    loadgen_cpu_us_per_request: float
    loadgen_core_fraction: float

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) or None


def spec_record(spec: LoadSpec, rules: TrialRules, sla: SlaTarget | None) -> dict[str, Any]:
    """The trial's settings as stored (a trace is summarised, not copied)."""
    load = asdict(spec)
    load["trace"] = len(spec.trace)
    return {**load, "rules": asdict(rules), "sla": sla.label if sla else None}


def run_trial(
    store: Store,
    run_id: int,
    name: str,
    spec: LoadSpec,
    rules: TrialRules,
    reporter: Reporter,
    sla: SlaTarget | None = None,
    extra: dict[str, Any] | None = None,
) -> TrialOutcome:
    records = run_load(spec, rules, reporter.tick)
    summaries = summarize(records, rules.late_threshold_ms, sla, spec.offered_rps())
    status, reasons = verdict(records, rules)
    sent = len(records.records)
    cpu_us = records.loadgen_cpu_ns / 1e3 / sent if sent else 0.0
    summary = {tenant: asdict(s) for tenant, s in summaries.items()}
    wall_s = (records.window_end_ns - records.start_ns) / 1e9
    summary["loadgen"] = {
        # Per request it looks large at low rates (idle wake-ups); the share of a core says what it took.
        "cpu_core_fraction": records.loadgen_cpu_ns / 1e9 / wall_s if wall_s > 0 else 0.0,
        "cpu_us_per_request": cpu_us,
        "cpu_s": records.loadgen_cpu_ns / 1e9,
        "workers": records.workers,
        "sent": sent,
    }
    stored = {**spec_record(spec, rules, sla), **(extra or {})}
    trial_id = store.save_trial(run_id, name, stored, records, summary, status, "; ".join(reasons) or None)
    return TrialOutcome(trial_id, status, reasons, summaries, cpu_us, summary["loadgen"]["cpu_core_fraction"])
