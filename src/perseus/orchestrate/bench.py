"""`perseus bench` as a function: the target its plan asks for (a remote endpoint, or a server started for
it), a request per model before any load, then one trial per level (a sweep stops at the first level past
its latency threshold or SLA), stored as one run with the URL and protocol really used."""

from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import cast

from perseus.core.paths import runs_dir
from perseus.core.progress import Reporter
from perseus.loadgen import ALL, LatencySummary
from perseus.loadgen.preflight import preflight
from perseus.loadgen.summary import latency_at
from perseus.orchestrate.bench_plan import BenchPlan, BenchSettings, Level, plan_bench
from perseus.orchestrate.cluster import ray_cluster, reachable_from_every_node
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.quiet import look_at_host
from perseus.orchestrate.targets import Backend, remote_target, started_target
from perseus.orchestrate.trial import TrialOutcome, run_trial
from perseus.store import Store


def headline_label(percentile: float | None) -> str:
    return "mean" if percentile is None else f"p{percentile:g}"


def headline_ms(summary: LatencySummary, percentile: float | None) -> float:
    """The latency a sweep is judged and headlined on: --percentile's, or the mean (perf_analyzer's)."""
    return summary.mean_ms if percentile is None else latency_at(summary, percentile)


@dataclass(frozen=True)
class LevelResult:
    level: Level
    outcome: TrialOutcome
    past: str | None  # why this level is past the latency threshold or the SLA; None: within both


@dataclass(frozen=True)
class BenchResult:
    run_id: int
    plan: BenchPlan
    levels: list[LevelResult]
    stopped: str | None  # why a sweep ended before its last level

    @property
    def outcome(self) -> TrialOutcome:
        """The first level's outcome (the only one unless this was a sweep)."""
        return self.levels[0].outcome

    @property
    def invalid(self) -> list[LevelResult]:
        return [r for r in self.levels if r.outcome.status != "valid"]


def _past(plan: BenchPlan, outcome: TrialOutcome) -> str | None:
    overall = outcome.summaries[ALL]
    threshold = plan.settings.latency_threshold_ms
    if threshold is not None:
        latency = headline_ms(overall, plan.settings.percentile)
        if not latency <= threshold:
            label = headline_label(plan.settings.percentile)
            return f"{label} latency {latency:.2f} ms is above --latency-threshold {threshold:g} ms"
    if overall.sla_met is False and plan.sla is not None:
        seen = latency_at(overall, plan.sla.percentile)
        return f"SLA {overall.sla} missed (p{plan.sla.percentile:g} {seen:.2f} ms)"
    return None


def run_bench(settings: BenchSettings | BenchPlan, store: Store, reporter: Reporter) -> BenchResult:
    """Record a run, start or reach the target, check each model answers, run each level. Settings are
    planned first; a caller that wants flag mistakes reported before it opens the store passes a plan.

    A server started for the run is stopped before this returns, whatever happens."""
    plan = settings if isinstance(settings, BenchPlan) else plan_bench(settings)
    spec, options = plan.spec, plan.settings
    results: list[LevelResult] = []
    stopped: str | None = None
    with ExitStack() as stack:
        cluster = stack.enter_context(ray_cluster(options.ray, reporter.status)) if options.ray else None
        host = look_at_host(reporter, options.require_quiet_host, spec.url if plan.server is None else None)
        facts = provenance(host, spec.inputs) | ({"cluster": cluster.provenance()} if cluster else {})
        run_id = stack.enter_context(store.recording("bench", plan.record(), facts))
        if plan.server is None:
            endpoint = remote_target(spec.url, spec.protocol, options.metrics_url)
        else:
            backend = cast(Backend, options.backend)
            endpoint = started_target(
                backend, plan.server, runs_dir() / f"run-{run_id}", spec.protocol, reporter, spec.inputs
            )
        with endpoint as where:
            # A started server's address (and the in-process reference's own protocol) is known only now.
            store.amend_run_spec(run_id, url=where.url, protocol=where.protocol)
            if cluster is not None:
                reachable_from_every_node(where.url, cluster)
            reporter.status(f"one request per model first ({where.description})")
            preflight(replace(spec, url=where.url, protocol=where.protocol, workers=1, on_ray=False))
            observe = where.observe
            if observe is not None:
                observe = replace(observe, interval_s=options.telemetry_interval_s)
            for index, level in enumerate(plan.levels):
                load = replace(level.spec, url=where.url, protocol=where.protocol)
                shown = level.name.removeprefix("bench").strip() or load.mode + " loop"
                reporter.trial(f"{shown} → {', '.join(load.tenants)}", index, len(plan.levels))
                outcome = run_trial(
                    store, run_id, level.name, load, plan.rules, reporter, plan.sla, observe=observe
                )
                results.append(LevelResult(level, outcome, _past(plan, outcome)))
                if plan.sweep and results[-1].past and index + 1 < len(plan.levels):
                    stopped = f"stopped after {shown}: {results[-1].past}"
                    break
    return BenchResult(run_id, plan, results, stopped)
