"""A placement's server as the kinds see it (experiments.lab.Server): open-loop probes stored under their
typed keys, so a re-run finds them stored and does not measure them again (experiments resume where they
stopped), probes in doubt measured again and judged with their first attempt, and λ searches over them."""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from perseus.config.experiment import ExperimentBase
from perseus.core.progress import Reporter
from perseus.core.reasons import POOLED, RETRY_RULE
from perseus.core.sla import TAIL_SAMPLES, samples_for
from perseus.experiments.lab import RatesAt
from perseus.loadgen import LoadSpec, TenantRate, TrialRules, derive_seed
from perseus.orchestrate.search import Step, find_peak
from perseus.orchestrate.session import Session
from perseus.serving import RunningServer
from perseus.store import Placement, Store, TrialKey, TrialRow
from perseus.store.judge import Verdict, doubtful, judge, sla_latency
from perseus.store.judge import judged as judged_attempts
from perseus.store.keys import Scalar

# A λ search's probe stops as soon as an SLA is certainly missed (loadgen.early_stop) on its first
# attempt; off only to measure what that saves (benchmarks/early_stop.py).
STOP_EARLY = True
ESTIMATE_S = 4.0  # closed-loop look before a search: where to start probing
ESTIMATE_WARMUP_S = 1.0  # its warm-up, never longer than the experiment's own (trial.warmup_s)


def expected_for(need: int) -> float:
    """The requests a trial should expect where it must complete `need`: a Poisson count of that mean
    falls short of `need` about 2% of the time (its mean less two standard deviations is `need`: 31 for
    20, 122 for 100). Expecting only `need` falls short half the time."""
    return (1 + math.sqrt(1 + need)) ** 2 if need > 0 else 0.0


def rules_of(experiment: ExperimentBase, tail: int = TAIL_SAMPLES) -> TrialRules:
    """The trial rules of every probe. Lateness is judged against the SLA: on a small host the server's
    threads delay the generator's wake-ups by a few ms (2-5 ms for 1-5% of sends when a CNN keeps both
    cores busy, even at 20 req/s), which matters for a 20 ms SLA, not a 100 ms one. Latency counts from
    the intended send either way, so a late send can only make the server look slower, by at most 5% of
    the SLA here; beyond that the probe is refused.

    Windows are at most a sixth of the longest trial (1 s from 6 s up), so a trial can be judged stable
    within half of it: the rest is there for a tenant with a small share to complete the latencies its
    SLA percentile needs, which a trial waits for."""
    t = experiment.trial
    slas = [experiment.sla_of(key) for key in experiment.model_keys()]
    tightest_ms = min(sla.threshold_ns for sla in slas) / 1e6
    return TrialRules(
        warmup_s=t.warmup_s,
        min_duration_s=t.min_duration_s,
        max_duration_s=t.max_duration_s,
        window_s=min(TrialRules.window_s, t.max_duration_s / (2 * TrialRules.stable_windows)),
        tolerance=t.tolerance,
        late_threshold_ms=t.late_threshold_ms or max(2.0, 0.05 * tightest_ms),
        min_tenant_requests=max(samples_for(sla.percentile, tail) for sla in slas),
    )


def floor_of(rules: TrialRules, rates_at: RatesAt) -> float:
    """The lowest searched rate a trial can judge: each tenant offered load is expected to complete the
    requests its SLA percentile needs in the longest trial (with the margin of expected_for), and the
    trial as a whole its minimum. A tenant's rate is affine in the searched rate (a share of it, or held
    while another is searched)."""
    base, unit = rates_at(0.0), rates_at(1.0)
    need = [(rules.min_requests, sum(base.values()), sum(unit.values()))]
    need += [(rules.min_tenant_requests, base.get(t, 0.0), r) for t, r in unit.items() if r > 0]
    floors = [(expected_for(n) / rules.max_duration_s - a) / (b - a) for n, a, b in need if b > a]
    return max([0.0, *floors])


def trial_seed(run_id: int, key: TrialKey) -> int:
    """The arrival seed of the trial stored under `key` in run `run_id` (its spec keeps it as `seed`).
    Every trial a run sends draws its own schedule: another placement, purpose or rate, a repeat or a
    confirmation (their placements differ), a retry (its attempt) and a --fresh run of the same
    experiment (its run id). A trial measured again under the same run and key (a resumed run) draws the
    same one. Before, every first attempt had seed 0, so repeats replayed one schedule."""
    return derive_seed(run_id, key.name())


def open_loop(
    experiment: ExperimentBase, rates: Mapping[str, float], seed: int
) -> Callable[[RunningServer], LoadSpec]:
    """The open-loop load of a probe at these rates, drawn from `seed` (trial_seed)."""
    load = experiment.load

    def spec(server: RunningServer) -> LoadSpec:
        url = server.endpoints.grpc_url if load.protocol == "grpc" else server.endpoints.http_url
        arrivals = tuple(
            TenantRate(t, r, load.arrival, load.batch) for t, r in sorted(rates.items()) if r > 0
        )
        return LoadSpec(
            url=url,
            tenants=tuple(sorted(rates)),
            mode="open",
            rates=arrivals,
            protocol=load.protocol,
            seed=seed,
            inputs=experiment.inputs,
        )

    return spec


@dataclass
class ProbingServer:
    """Probes against one server session: a placement, its tenants and knobs."""

    store: Store
    run_id: int
    session: Session
    experiment: ExperimentBase
    reporter: Reporter
    placement: Placement
    tail: int = TAIL_SAMPLES  # latencies above each SLA percentile a probe needs: the run's own rule

    def _measure(
        self,
        key: TrialKey,
        make_spec: Callable[[RunningServer], LoadSpec],
        rules: TrialRules,
        judged: bool = True,
    ) -> TrialRow:
        """The trial stored under `key`, measuring it first unless a previous run already did; `judged`
        trials are held to every tenant's SLA."""
        name = key.name()
        row = self.store.trial_named(self.run_id, name)
        if row is None:
            slas = {
                t.name: replace(self.experiment.sla_of(t.model.base), tail=self.tail)
                for t in self.session.tenants()
            }
            self.session.trial(
                self.store,
                self.run_id,
                name,
                make_spec,
                rules,
                slas if judged else None,
                {"key": key.to_json(), RETRY_RULE: POOLED},
                self.experiment.telemetry_interval_s,
            )
            row = self.store.trial_named(self.run_id, name)
            assert row is not None
        return row

    def trial(self, rates: Mapping[str, float], purpose: str, **params: Scalar) -> TrialRow:
        """One trial at these rates (req/s per tenant); stored ones are reused, one in doubt (unstable, a
        generator the host held back, a busy host, a broken server) measured again."""
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        return self._attempts(rates, purpose, params, f"{purpose}{f' ({shown})' if shown else ''}")[-1]

    def _attempts(
        self,
        rates: Mapping[str, float],
        purpose: str,
        params: Mapping[str, Scalar],
        what: str,
        stop_early: bool = False,
    ) -> list[TrialRow]:
        """Every attempt of this key, each measured now said in one line: `what r=… → feasible`, or
        `→ not feasible (why)`, or in doubt and measured again. An attempt is in doubt (store.judge.
        doubtful) by what it says of the measurement alone, never by whether its SLAs were met, and the
        probe is then judged on all its attempts together: a retry adds latencies to the first's, so it
        cannot give a miss a second chance that a pass does not get."""
        key = TrialKey(self.placement, purpose, dict(params), rates)
        retries = self.experiment.trial.retries
        tenants = [t for t, r in rates.items() if r > 0]
        rows: list[TrialRow] = []
        for attempt in range(retries + 1):
            if rows and not doubtful(rows[-1]):
                break
            this = key.with_attempt(attempt)
            stored = self.store.trial_named(self.run_id, this.name()) is not None
            # A search's probe stops once an SLA is certainly lost: the search reads only its verdict, which
            # the stop does not change. Not a retry: judged pooled with the attempt before, a miss certain
            # for it alone is not certain for the pool. Nor a trial whose latencies a kind reports (a QoS
            # point's share within the bound would be that of a shorter queue).
            lost = stop_early and attempt == 0
            rules = replace(rules_of(self.experiment, self.tail), stop_when_lost=lost)
            spec = open_loop(self.experiment, rates, trial_seed(self.run_id, this))
            rows.append(self._measure(this, spec, rules))
            if not stored:  # a resumed run says once how many trials it kept; each is not listed again
                again = attempt < retries and doubtful(rows[-1])
                said = outcome(rows[-1], judge(rows, tenants), again)
                self.reporter.status(
                    f"{self.placement.label()}: {what} r={rates_text(self._named(rates))} → {said}"
                )
        return rows

    def _named(self, rates: Mapping[str, float]) -> dict[str, float]:
        """Rates by the models' names in the experiment (a server names a lone second copy by its base)."""
        return {self.placement.model_of(t): r for t, r in rates.items()}

    def search(
        self, rates_at: RatesAt, judged: Sequence[str], start: float, purpose: str, **params: Scalar
    ) -> float:
        def probe(rate: float) -> Step:
            rates = rates_at(rate)
            rows = self._attempts(rates, purpose, params, "probe", stop_early=STOP_EARLY)
            loaded = [t for t, r in rates.items() if r > 0]
            verdict = judge(rows, loaded)
            used = judged_attempts(rows) or rows[-1:]  # served: as the analysis reads it, over the attempts
            served = sum(
                float(a.summary.value(t, "throughput_rps", 0.0)) for a in used for t in judged
            ) / len(used)
            latency, bound = sla_latency(rows, verdict, loaded) or (None, None)
            return Step(
                sum(rates[t] for t in judged), verdict.feasible, served, verdict.detail, latency, bound
            )

        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        what = f"{self.placement.label()}: {purpose}" + (f" ({shown})" if shown else "")
        floor = floor_of(rules_of(self.experiment, self.tail), rates_at)
        return find_peak(probe, start, self.experiment.search, what, floor).peak_rps

    def estimate(self) -> dict[str, float]:
        """Closed-loop throughput of each tenant alone at concurrency = its instances: a starting point."""
        found: dict[str, float] = {}
        for name in self.placement.names:
            key = TrialKey(self.placement, "estimate", {"tenant": name})
            if self.store.trial_named(self.run_id, key.name()) is None:
                model = self.placement.model_of(name)
                self.reporter.status(f"{self.placement.label()}: estimating {model}'s capacity (closed loop)")
            trial = self.experiment.trial
            rules = TrialRules.fixed(
                min(ESTIMATE_S, trial.max_duration_s), min(ESTIMATE_WARMUP_S, trial.warmup_s)
            )
            row = self._measure(key, _closed_loop(name, self.experiment.inputs), rules, judged=False)
            found[name] = float(row.summary.value(name, "throughput_rps", 0.0)) or 1.0
        return found


def rates_text(rates: Mapping[str, float]) -> str:
    """`12.50 req/s` for one tenant; `resnet50 12.50 + mobilenet_v2 90.00 req/s` for several."""
    if len(rates) == 1:
        return f"{next(iter(rates.values())):.2f} req/s"
    return " + ".join(f"{t} {r:.2f}" for t, r in rates.items()) + " req/s"


def outcome(row: TrialRow, verdict: Verdict, again: bool = False) -> str:
    """How a probe came out, as the progress line ends: feasible (and why it is flagged, if it is), not
    feasible and why (its attempts so far judged together), or in doubt and measured again."""
    early = stopped_text(row)
    if again:
        return f"in doubt ({row.reason}); measuring again" + (f"; {early}" if early else "")
    if not verdict.feasible:
        return f"not feasible ({verdict.detail})" + (f"; {early}" if early else "")
    if verdict.attempts > 1:
        return f"feasible, {verdict.detail.removeprefix('ok (').removesuffix(')')}"
    return "feasible" if row.status == "valid" else f"feasible, flagged ({row.reason})"


def stopped_text(row: TrialRow) -> str:
    """`stopped early at 3.2 s: SLA already lost (m p95 ≤ 100 ms: 61 late, 57 allowed of 1200)` for a trial
    the load generator stopped once an SLA was certainly missed (loadgen.early_stop); "" otherwise."""
    stopped = row.summary.loadgen.get("stopped_early")
    if not isinstance(stopped, dict):
        return ""
    return (
        f"stopped early at {float(stopped['stopped_at_s']):.1f} s: SLA already lost ({stopped['tenant']} "
        f"{stopped['sla']}: {stopped['late']} late, {stopped['allowed']} allowed of {stopped['planned']})"
    )


def _closed_loop(tenant: str, inputs: str) -> Callable[[RunningServer], LoadSpec]:
    def spec(server: RunningServer) -> LoadSpec:
        (served,) = [t for t in server.tenants if t.name == tenant]
        return LoadSpec(
            url=server.endpoints.grpc_url,
            tenants=(tenant,),
            concurrency=served.config.instances,
            inputs=inputs,
        )

    return spec
