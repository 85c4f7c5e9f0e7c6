"""What a trial measured, per tenant and overall: throughput, latency distributions, lateness, errors, QoS."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from perseus.core.histogram import decode, encode, histogram_of, percentiles_ms, values_at_percentiles
from perseus.core.sla import SlaTarget
from perseus.loadgen.records import RequestRecord, TrialRecords

ALL = "*"


@dataclass(frozen=True)
class LatencySummary:
    tenant: str  # "*" for all tenants together
    requests: int  # completed without error, intended inside the window
    errors: int
    throughput_rps: float  # completions inside the window / window length
    offered_rps: float | None  # open loop only: the rate asked for
    # Latency from the intended send time (coordinated-omission-correct); these are the headline numbers.
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float
    # Latency from the actual send, for comparison with tools that measure it that way.
    sent_p50_ms: float
    sent_p95_ms: float
    sent_p99_ms: float
    late_fraction: float
    lateness_p99_ms: float
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    histogram: str = ""  # encoded HDR histogram of intended-time latency (ns)
    sla: str | None = None
    sla_met: bool | None = None
    qos_satisfaction: float | None = None  # fraction of requests (errors count as misses) within the bound
    # Open loop: the requests the schedule drew for the window / its length. A Poisson schedule draws a
    # few % more or fewer than offered_rps; served is compared with this, so chance is not read as drops.
    drawn_rps: float | None = None
    sent_p90_ms: float = float("nan")
    sent_mean_ms: float = float("nan")
    # The latencies the SLA's percentile needs to be judged at all (core.sla.samples_for); a judge of
    # stored trials reads it, so each is judged by the rule it was measured under.
    sla_samples: int | None = None


def _hist(records: list[RequestRecord], attr: str) -> HdrHistogram:
    return histogram_of(getattr(r, attr) for r in records)


def latency_at(summary: LatencySummary, percentile: float) -> float:
    """Intended-time latency at any percentile, in ms, from the summary's stored histogram."""
    reported = {50.0: summary.p50_ms, 90.0: summary.p90_ms, 95.0: summary.p95_ms, 99.0: summary.p99_ms}
    if percentile in reported or not summary.histogram:
        return reported.get(percentile, float("nan"))
    histogram = decode(summary.histogram)
    if histogram.get_total_count() == 0:
        return float("nan")
    (value,) = values_at_percentiles(histogram, [percentile])
    return float(value) / 1e6


def summarize_records(
    tenant: str,
    records: list[RequestRecord],
    trial: TrialRecords,
    late_threshold_ns: float,
    sla: SlaTarget | None = None,
    offered_rps: float | None = None,
) -> LatencySummary:
    ok = [r for r in records if r.ok]
    completed = sum(1 for r in ok if trial.window_start_ns <= r.done_ns < trial.window_end_ns)
    intended = _hist(ok, "latency_ns")
    sent = percentiles_ms(_hist(ok, "service_ns"))
    lateness = [max(0, r.lateness_ns) for r in records]
    late = percentiles_ms(histogram_of(max(v, 1_000) for v in lateness))
    pct = percentiles_ms(intended)
    met = satisfaction = None
    if sla is not None:
        bound = sla.threshold_ns
        met = bool(ok) and values_at_percentiles(intended, [sla.percentile])[0] <= bound
        satisfaction = sum(1 for r in ok if r.latency_ns <= bound) / len(records) if records else 0.0
    return LatencySummary(
        tenant=tenant,
        requests=len(ok),
        errors=len(records) - len(ok),
        throughput_rps=completed / trial.window_s if trial.window_s > 0 else 0.0,
        offered_rps=offered_rps,
        mean_ms=pct["mean_ms"],
        p50_ms=pct["p50_ms"],
        p90_ms=pct["p90_ms"],
        p95_ms=pct["p95_ms"],
        p99_ms=pct["p99_ms"],
        p99_9_ms=pct["p99.9_ms"],
        max_ms=pct["max_ms"],
        sent_p50_ms=sent["p50_ms"],
        sent_p95_ms=sent["p95_ms"],
        sent_p99_ms=sent["p99_ms"],
        late_fraction=sum(1 for v in lateness if v > late_threshold_ns) / len(records) if records else 0.0,
        lateness_p99_ms=late["p99_ms"] if lateness else 0.0,
        errors_by_kind=dict(Counter(r.error or "unknown" for r in records if not r.ok)),
        histogram=encode(intended),
        sla=sla.label if sla else None,
        sla_met=met,
        qos_satisfaction=satisfaction,
        drawn_rps=len(records) / trial.window_s if offered_rps is not None and trial.window_s > 0 else None,
        sent_p90_ms=sent["p90_ms"],
        sent_mean_ms=sent["mean_ms"],
        sla_samples=sla.min_samples if sla else None,
    )


def summarize(
    trial: TrialRecords,
    late_threshold_ms: float = 2.0,
    sla: SlaTarget | Mapping[str, SlaTarget] | None = None,
    offered_rps: dict[str, float] | None = None,
) -> dict[str, LatencySummary]:
    """Per-tenant summaries plus "*" for all requests together. `sla` is one target for every tenant, or
    one per tenant (then "*" is judged only when they all share one)."""
    measured = trial.measured()
    threshold = late_threshold_ms * 1e6
    offered = offered_rps or {}

    def target(tenant: str) -> SlaTarget | None:
        if isinstance(sla, Mapping):
            # "*" has a target only when every tenant has the same one.
            shared = set(sla.values())
            return sla.get(tenant) if tenant != ALL else (shared.pop() if len(shared) == 1 else None)
        return sla

    result = {
        t: summarize_records(
            t, [r for r in measured if r.tenant == t], trial, threshold, target(t), offered.get(t)
        )
        for t in sorted({r.tenant for r in trial.records})
    }
    total_offered = sum(offered.values()) if offered else None
    result[ALL] = summarize_records(ALL, measured, trial, threshold, target(ALL), total_offered)
    return result
