"""One trial: drive load at a running endpoint while sampling telemetry, judge it VALID / INVALID /
FAILED, and store it with every request record and telemetry sample."""

import socket
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

from perseus.core.progress import Reporter
from perseus.core.reasons import Reason, Why
from perseus.core.records import Sender, TrialRecords
from perseus.loadgen import LatencySummary, LoadSpec, SlaTarget, TrialRules, run_load, summarize, verdict
from perseus.loadgen.rules import late_sends
from perseus.store import TrialSink, TrialSummary
from perseus.store.summary import OTHER_CORES, SPEED_END, SPEED_START, STEAL_CORES
from perseus.telemetry import Sampler, breakdown
from perseus.telemetry.host import BUSY_CORES, HostGauge, LocalHost, OthersMeter
from perseus.telemetry.steal import STEAL_BUSY_CORES, steal_cores

FAILED = "failed"


@dataclass(frozen=True)
class Observation:
    """What a trial watches besides its requests: the tenants' processes, the server's /metrics, and a
    check that the server is still whole when the load ends (a dead stub fails the trial)."""

    tenant_pids: Callable[[], Mapping[str, Sequence[int]]]
    metrics_url: str | None = None
    fault: Callable[[], str | None] = lambda: None
    interval_s: float = 1.0


@dataclass(frozen=True)
class TrialOutcome:
    trial_id: int
    status: str  # valid | invalid | failed
    reasons: list[str]  # as printed; `why` has them typed
    summaries: dict[str, LatencySummary]
    loadgen_cpu_us_per_request: float
    loadgen_core_fraction: float
    server: dict[str, dict[str, Any]] = field(default_factory=dict)  # per tenant: Triton's own breakdown
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # per tenant: CPU and memory
    notices: list[str] = field(default_factory=list)
    sent: int = 0  # requests sent, warm-up included (what the server's own count sees)
    actors: list[dict[str, Any]] = field(default_factory=list)  # Ray load actors: node, sent, late, CPU
    why: tuple[Reason, ...] = ()
    host: dict[str, float] = field(default_factory=dict)  # as TrialSummary.host: others, steal, speed

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) or None


Sla = SlaTarget | Mapping[str, SlaTarget] | None


def spec_record(spec: LoadSpec, rules: TrialRules, sla: Sla) -> dict[str, Any]:
    """The trial's settings as stored (a trace is summarised, not copied)."""
    load = asdict(spec)
    load["trace"] = len(spec.trace)
    labels = (
        {t: s.label for t, s in sla.items()} if isinstance(sla, Mapping) else (sla.label if sla else None)
    )
    return {**load, "rules": asdict(rules), "sla": labels}


def _usage(sampler: Sampler, wall_s: float) -> dict[str, dict[str, float]]:
    """Per tenant: CPU seconds over the whole trial, the cores that is on average, and peak RSS."""
    peak_rss: dict[str, float] = {}
    for sample in sampler.samples:
        if sample.source == "process" and sample.metric == "rss_bytes" and sample.tenant is not None:
            peak_rss[sample.tenant] = max(peak_rss.get(sample.tenant, 0.0), sample.value)
    return {
        tenant: {
            "cpu_s": sampler.cpu_seconds(tenant),
            "cores": sampler.cpu_seconds(tenant) / wall_s if wall_s > 0 else 0.0,
            "rss_peak_bytes": peak_rss.get(tenant, 0.0),
        }
        for tenant in sorted(peak_rss)
    }


def _sender(sender: Sender, records: TrialRecords, rules: TrialRules) -> dict[str, Any]:
    """One Ray load actor's share: where it ran, what it sent in the window, how late, what CPU."""
    mine = records.measured(sender.records)
    late = late_sends(mine, rules)
    return {
        "worker": sender.worker,
        "node": sender.node,
        "sent": len(mine),
        "late_fraction": late / len(mine) if mine else 0.0,
        "cpu_s": sender.cpu_ns / 1e9,
    }


def too_few(
    summaries: Mapping[str, LatencySummary],
    rules: TrialRules,
    stopped: Mapping[str, Any] | None = None,
    measured_s: float | None = None,
) -> list[Reason]:
    """Tenants whose SLA percentile the trial could not give the latencies it needs (it ran to its
    maximum duration without them): said by the trial, so a search knows it could not judge them. Only
    under rules that wait for them (an experiment's; a bench says what it measured), and not in a trial
    `stopped` early because an SLA was certainly missed (a miss needs no more latencies to be sure)."""
    if rules.min_tenant_requests <= 0 or stopped is not None:
        return []
    return [
        Reason(
            Why.TOO_FEW_LATENCIES,
            f"too few latencies to judge {tenant}'s {s.sla}: {s.requests} in "
            f"{rules.max_duration_s if measured_s is None else measured_s:.3g} s "
            f"(need {s.sla_samples})",
            {"tenant": tenant, "sla": s.sla, "requests": s.requests, "need": s.sla_samples},
        )
        for tenant, s in summaries.items()
        if s.sla is not None and s.sla_samples is not None and s.requests < s.sla_samples
    ]


def run_trial(
    store: TrialSink,
    run_id: int,
    name: str,
    spec: LoadSpec,
    rules: TrialRules,
    reporter: Reporter,
    sla: Sla = None,
    extra: dict[str, Any] | None = None,
    observe: Observation | None = None,
    gauge: HostGauge | None = None,
) -> TrialOutcome:
    gauge = gauge or LocalHost()
    # The host's speed before and after the load, each ≤ 0.12 s: ≤ 3.5% of the shortest trial experiments
    # and benches run by default (2 s warm-up + ≥ 5 s measured; a bench 12 s), so every trial says how fast
    # the host was for it, whatever ran between trials (a search's first and last probes lie minutes apart,
    # and a neighbour can come and go within them). Timed with no load, sampler or worker running, so the
    # workload has a core to itself unless something outside perseus takes it (which it should show).
    speed_start = gauge.speed_ops_s()
    sampler = Sampler(observe.tenant_pids, observe.metrics_url, observe.interval_s) if observe else None
    others = OthersMeter()
    stolen_from = gauge.steal()
    with sampler or nullcontext():
        records = run_load(spec, rules, reporter.tick, sla)
    steal = steal_cores(stolen_from, gauge.steal())
    # Ray load actors on this host are the measurement's own senders, not other processes.
    senders_here = sum(s.cpu_ns for s in records.senders if s.hostname == socket.gethostname())
    wall_s = (records.window_end_ns - records.start_ns) / 1e9
    other_cores = max(0.0, others.cores() - (senders_here / 1e9 / wall_s if wall_s > 0 else 0.0))
    speed_end = gauge.speed_ops_s()  # after others.cores(): its time would dilute their average
    summaries = summarize(records, rules.late_threshold_ms, sla, spec.offered_rps())
    status, reasons = verdict(records, rules)
    measured_s = (records.window_end_ns - records.window_start_ns) / 1e9
    shown = {t: s for t, s in summaries.items() if t in spec.tenants}
    short = too_few(shown, rules, records.stopped, measured_s)
    if short:
        status, reasons = "invalid", [*reasons, *short]
    if observe is not None and other_cores > BUSY_CORES:  # a local server shares this host's cores
        busy = Reason(
            Why.HOST_BUSY, f"host busy: other processes used {other_cores:.2f} cores", {"cores": other_cores}
        )
        status, reasons = "invalid", [*reasons, busy]
    # Steal slows this host's own vCPUs, the load generator's as much as a local server's: judged whatever
    # the target.
    if steal is not None and steal > STEAL_BUSY_CORES:
        took = Reason(
            Why.HOST_BUSY,
            f"host busy: the hypervisor took {steal:.2f} cores (CPU steal)",
            {"steal_cores": steal},
        )
        status, reasons = "invalid", [*reasons, took]
    fault = observe.fault() if observe else None
    if fault is not None:
        failed = Reason(Why.SERVER_FAULT, f"server fault during the trial: {fault}", {"fault": fault})
        status, reasons = FAILED, [failed, *reasons]
    sent = len(records.records)
    cpu_us = records.loadgen_cpu_ns / 1e3 / sent if sent else 0.0
    loadgen: dict[str, Any] = {
        # Per request it looks large at low rates (idle wake-ups); the share of a core says what it took.
        "cpu_core_fraction": records.loadgen_cpu_ns / 1e9 / wall_s if wall_s > 0 else 0.0,
        "cpu_us_per_request": cpu_us,
        "cpu_s": records.loadgen_cpu_ns / 1e9,
        "workers": records.workers,
        "sent": sent,
    }
    if records.stopped is not None:
        loadgen["stopped_early"] = records.stopped
    if records.senders:
        loadgen["actors"] = [_sender(s, records, rules) for s in records.senders]
    server: dict[str, dict[str, Any]] = {}
    usage: dict[str, dict[str, float]] = {}
    notices: list[str] = []
    if sampler is not None:
        if sampler.first_metrics is not None and sampler.last_metrics is not None:
            server = {
                m: b.as_dict() for m, b in breakdown(sampler.first_metrics, sampler.last_metrics).items()
            }
        usage = _usage(sampler, (sampler.samples[-1].t_ns - sampler.samples[0].t_ns) / 1e9)
        notices = list(sampler.notices)
    per_tenant = {tenant: asdict(s) for tenant, s in summaries.items()}
    host: dict[str, float] = {
        OTHER_CORES: round(other_cores, 3),
        SPEED_START: round(speed_start),
        SPEED_END: round(speed_end),
    }
    if steal is not None:  # recorded whether or not it made the trial INVALID; absent where unreadable
        host[STEAL_CORES] = round(steal, 3)
    summary = TrialSummary(per_tenant, loadgen, server, usage, notices, host)
    stored = {**spec_record(spec, rules, sla), **(extra or {})}
    samples = sampler.samples if sampler is not None else []
    trial_id = store.save_trial(run_id, name, stored, records, summary, status, reasons, samples)
    return TrialOutcome(
        trial_id,
        status,
        [r.text for r in reasons],
        summaries,
        cpu_us,
        loadgen["cpu_core_fraction"],
        server,
        usage,
        notices,
        sent,
        loadgen.get("actors", []),
        tuple(reasons),
        host,
    )
