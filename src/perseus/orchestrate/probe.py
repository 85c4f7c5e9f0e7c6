"""Probes: one open-loop trial at given per-tenant rates on a server session, named by what it offered so a
re-run finds it stored and does not measure it again (experiments resume where they stopped)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perseus.config.experiment import Experiment
from perseus.core.progress import Reporter
from perseus.core.sla import SlaTarget
from perseus.loadgen import LoadSpec, TenantRate, TrialRules
from perseus.orchestrate.search import Step
from perseus.orchestrate.session import ServerSession
from perseus.serving import RunningServer
from perseus.store import Store, TrialRow

ESTIMATE_S = 4.0  # closed-loop look before a search: where to start probing


def rules_of(experiment: Experiment) -> TrialRules:
    """The trial rules of every probe. Lateness is judged against the SLA: on a small host the server's
    threads delay the generator's wake-ups by a few ms (2-5 ms for 1-5% of sends when a CNN keeps both
    cores busy, even at 20 req/s), which matters for a 20 ms SLA, not a 100 ms one. Latency counts from
    the intended send either way, so a late send can only make the server look slower, by at most 5% of
    the SLA here; beyond that the probe is refused."""
    t = experiment.trial
    tightest_ms = min(experiment.sla_of(key).threshold_ns for key in experiment.model_keys()) / 1e6
    return TrialRules(
        warmup_s=t.warmup_s,
        min_duration_s=t.min_duration_s,
        max_duration_s=t.max_duration_s,
        tolerance=t.tolerance,
        late_threshold_ms=t.late_threshold_ms or max(2.0, 0.05 * tightest_ms),
    )


BLOCKING = ("too few requests", "too many errors", "generator fell behind", "overloaded", "too short")


def feasible(trial: TrialRow, tenants: list[str]) -> tuple[bool, str]:
    """Every tenant met its SLA over the whole measured window, with no overload, errors or late sends.

    A probe whose windows did not agree within the stability tolerance still counts (it is flagged):
    at a few dozen requests per window the windows of a steady queue differ by more than ±10% by chance,
    and the SLA is judged on all the window's requests together.
    """
    if trial.status == "failed":
        return False, f"failed: {trial.reason}"
    blocking = [part for part in (trial.reason or "").split("; ") if part.startswith(BLOCKING)]
    if blocking:
        return False, "; ".join(blocking)
    missed = [t for t in tenants if not trial.summary.get(t, {}).get("sla_met")]
    if missed:
        return False, "; ".join(
            f"{t} {trial.summary[t]['sla']} missed (p95 {trial.summary[t]['p95_ms']:.1f} ms)"
            if t in trial.summary
            else f"{t} served nothing"
            for t in missed
        )
    return True, "ok" if trial.status == "valid" else f"ok (flagged: {trial.reason})"


def _only_unstable(trial: TrialRow) -> bool:
    return trial.status == "invalid" and all(
        part.strip().startswith("unstable") for part in (trial.reason or "").split(";")
    )


def open_loop(
    experiment: Experiment, rates: Mapping[str, float], seed: int
) -> Callable[[RunningServer], LoadSpec]:
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
        )

    return spec


@dataclass
class Prober:
    """Open-loop probes against one server session (a placement: its tenants and knobs)."""

    store: Store
    run_id: int
    session: ServerSession
    experiment: Experiment
    reporter: Reporter
    phase: str  # names this placement in trial names, e.g. "dedicated/resnet50"
    extra: dict[str, Any]

    def tenants(self) -> list[str]:
        return [t.name for t in self.session.server().tenants]

    def slas(self) -> dict[str, SlaTarget]:
        server = self.session.server()
        return {t.name: self.experiment.sla_of(t.model.base) for t in server.tenants}

    def _stored(self, name: str) -> TrialRow | None:
        return self.store.trial_named(self.run_id, name)

    def trial(self, rates: Mapping[str, float], label: str) -> TrialRow:
        """One probe at these rates (req/s per tenant); stored ones are reused, unstable ones retried."""
        offered = ",".join(f"{t}={rates[t]:.4f}" for t in sorted(rates))
        base = f"{self.phase}|{label}|{offered}"
        row = self._measure(base, rates, label, 0)
        for attempt in range(1, self.experiment.trial.retries + 1):
            if not _only_unstable(row):
                break
            row = self._measure(f"{base}|retry{attempt}", rates, label, attempt)
        return row

    def _measure(self, name: str, rates: Mapping[str, float], label: str, seed: int) -> TrialRow:
        row = self._stored(name)
        if row is not None:
            return row
        self.reporter.status(
            f"{self.phase}: {label} at " + ", ".join(f"{t} {r:.2f}" for t, r in rates.items())
        )
        self.session.trial(
            self.store,
            self.run_id,
            name,
            open_loop(self.experiment, rates, seed),
            rules_of(self.experiment),
            self.slas(),
            {**self.extra, "phase": self.phase, "label": label, "offered": dict(rates)},
            self.experiment.telemetry_interval_s,
        )
        stored = self._stored(name)
        assert stored is not None
        return stored

    def step(self, rates: Mapping[str, float], label: str, judged: list[str]) -> Step:
        row = self.trial(rates, label)
        ok, detail = feasible(row, [t for t in self.tenants() if rates.get(t, 0) > 0])
        served = sum(float(row.summary.get(t, {}).get("throughput_rps", 0.0)) for t in judged)
        return Step(sum(rates[t] for t in judged), ok, served, detail)

    def estimate(self) -> dict[str, float]:
        """Closed-loop throughput of each tenant alone at concurrency = its instances: a starting point."""
        found: dict[str, float] = {}
        for tenant in self.session.server().tenants:
            name = f"{self.phase}|estimate|{tenant.name}"
            row = self._stored(name)
            if row is None:
                self.reporter.status(f"{self.phase}: estimating {tenant.name}'s capacity (closed loop)")

                def spec(
                    server: RunningServer, who: str = tenant.name, c: int = tenant.config.instances
                ) -> LoadSpec:
                    return LoadSpec(url=server.endpoints.grpc_url, tenants=(who,), concurrency=c)

                self.session.trial(
                    self.store,
                    self.run_id,
                    name,
                    spec,
                    TrialRules.fixed(min(ESTIMATE_S, self.experiment.trial.max_duration_s), 1.0),
                    None,
                    {**self.extra, "phase": self.phase, "label": "estimate"},
                    self.experiment.telemetry_interval_s,
                )
                row = self._stored(name)
                assert row is not None
            found[tenant.name] = float(row.summary.get(tenant.name, {}).get("throughput_rps", 0.0)) or 1.0
        return found
