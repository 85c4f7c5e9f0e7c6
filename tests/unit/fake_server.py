"""A model of a server session for unit tests of the experiment kinds: the real ServerLab, probes,
searches, store and analyses run over it, but a trial is computed, not measured. Each tenant is an M/D/c
queue; CPU-bound models (synthetic-cpu) share one core, sleeping ones (synthetic-sleep)
only their instances; p95 grows as the load nears capacity. `replay_session` measures nothing at all.

So that a test can tell which trials an analysis read, the numbers depend on the trial's key, by rules
simple enough to compute by hand:
- pass / repeat k (the placement's `repeat` setting, 1 when absent): service times × 1 + (k − 1)/4, so
  pass 2 is 25% slower and pass 3 50% (the p95 a rate gives, and the capacity, both move); a session
  given an explicit `slowdown` (drifting_session) uses that instead;
- a confirmation (the placement's `confirm` setting: a point chosen as the best, searched again on a
  fresh server) runs its service times × 1.25 more, so it comes out lower than the choice (as the best of
  several noisy points does on a real host) and a test can tell which of the two a figure reports;
- attempt a (a probe in doubt measured again): throughput and QoS satisfaction × (1 − a/10), so the
  first attempt of a probe reports 100%, its retry 90% (its latencies, hence its SLA verdict, are the
  same);
- seed s (the load spec's): every synthetic request is sent s µs later.
Each trial stores, through Store.save_trial as a real trial does, RECORDS requests per tenant served
(intended 1/rate apart from the seed's offset, each taking the tenant's p95; not ok when overloaded) and
two telemetry samples per tenant (`process` cpu_s at 0 and at the end of its 1 s window: the tenant's
utilisation, and rss_bytes), so a copy that drops either is seen."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from perseus.config import ServerConfig
from perseus.config.serving import served_names
from perseus.core.progress import NullReporter, Reporter
from perseus.core.reasons import Reason, Why
from perseus.core.records import RequestRecord, TrialRecords
from perseus.experiments.registry import kind_of
from perseus.experiments.results import RUN_KIND
from perseus.loadgen import LoadSpec
from perseus.orchestrate.runner import ServerLab
from perseus.store import Store, TrialKey, TrialSummary
from perseus.store.db import TelemetryRow

CORES = 1.0  # CPU-bound tenants share this many cores (the stubs of a 2-core host, with the server)
RECORDS = 2  # synthetic requests stored per tenant and trial
WINDOW_NS = 1_000_000_000  # every fake trial's measured window
RSS_BYTES = 100 * 2**20  # each tenant's resident memory, as its telemetry says


def pass_slowdown(repeat: int) -> float:
    """Service times on the k-th search of a placement (a profile's pass k): 1, 1.25, 1.5, ..."""
    return 1 + (repeat - 1) / 4


CONFIRM_SLOWDOWN = 1.25  # a confirmation's server against the chosen one's


def attempt_factor(attempt: int) -> float:
    """What attempt a of a probe reports of the throughput and QoS satisfaction of the first: 1, 0.9, ..."""
    return 1 - attempt / 10


def service_ms(model: str) -> float:
    """synthetic-sleep:service_ms=S sleeps S ms; anything else computes for 2 ms (options ignored)."""
    found = re.search(r"service_ms=([0-9.]+)", model)
    return float(found.group(1)) if found else 2.0


def cpu_bound(model: str) -> bool:
    return not model.startswith("synthetic-sleep")


@dataclass
class FakeSession:
    config: ServerConfig
    log: list[str] = field(default_factory=list)  # trial names measured
    doubt_first: bool = False  # every open-loop probe's first attempt comes out unstable
    # Or comes out as this instead: a status and its reason (a late generator, a FAILED server, ...).
    first: tuple[str, Reason] | None = None
    spoiled: int = 1  # how many attempts of each open-loop probe come out so (from the first on)
    # Every service time × this: a server start that landed on a slower host. None: by the pass rule.
    slowdown: float | None = None
    repeat: int = 1  # the pass of the trial being computed (set from its key)
    confirming: bool = False  # the trial being computed is a confirmation's (set from its key)

    def service_ms(self, model: str) -> float:
        if self.slowdown is not None:
            return service_ms(model) * self.slowdown
        return service_ms(model) * pass_slowdown(self.repeat) * (CONFIRM_SLOWDOWN if self.confirming else 1.0)

    def server(self) -> Any:
        names = served_names(self.config.tenants)
        tenants = [
            SimpleNamespace(name=n, config=t, model=SimpleNamespace(base=t.model.split(":", 1)[0]))
            for n, t in zip(names, self.config.tenants, strict=True)
        ]
        return SimpleNamespace(
            tenants=tenants, endpoints=SimpleNamespace(grpc_url="fake:1", http_url="fake:2")
        )

    def tenants(self) -> Any:
        return self.server().tenants

    def _capacity(self, rates: dict[str, float]) -> dict[str, float]:
        """Utilisation each tenant sees: its own instances, and the cores it shares with CPU-bound ones."""
        server = self.server()
        cpu_load = sum(
            rates.get(t.name, 0.0) * self.service_ms(t.config.model) / 1e3
            for t in server.tenants
            if cpu_bound(t.config.model)
        )
        load = {}
        for t in server.tenants:
            own = rates.get(t.name, 0.0) * self.service_ms(t.config.model) / 1e3 / t.config.instances
            load[t.name] = max(own, cpu_load / CORES) if cpu_bound(t.config.model) else own
        return load

    def trial(
        self, store: Store, run_id: int, name: str, make_spec: Callable[[Any], LoadSpec], *rest: Any
    ) -> None:
        """As ServerSession.trial(store, run_id, name, make_spec, rules, sla, extra, interval_s)."""
        _, sla, extra = rest[:3]
        key = TrialKey.from_json(extra["key"]) if extra and "key" in extra else None
        setting = key.placement.setting if key is not None else {}
        self.repeat, self.confirming = int(setting.get("repeat") or 1), bool(setting.get("confirm"))
        attempt = key.attempt if key is not None else 0
        spec = make_spec(self.server())
        by_name = {t.name: t for t in self.server().tenants}
        if spec.mode == "closed":
            rates = {
                t: by_name[t].config.instances / (self.service_ms(by_name[t].config.model) / 1e3)
                for t in spec.tenants
            }
        else:
            rates = {r.tenant: r.rate_rps for r in spec.rates}
        rho = self._capacity(rates)
        tenants: dict[str, dict[str, Any]] = {}
        for tenant, rate in rates.items():
            s_ms = self.service_ms(by_name[tenant].config.model)
            p95 = s_ms * (1 + 3 * rho[tenant] / (1 - rho[tenant])) if rho[tenant] < 1 else 1e6
            target = sla.get(tenant) if isinstance(sla, dict) else None
            met = None if target is None else p95 * 1e6 <= target.threshold_ns
            served = rate if rho[tenant] < 1 else rate / rho[tenant]
            tenants[tenant] = {
                "throughput_rps": served * attempt_factor(attempt),
                "p95_ms": p95,
                "sla": None if target is None else target.label,
                "sla_met": met,
                "qos_satisfaction": None if met is None else (1.0 if met else 0.5) * attempt_factor(attempt),
            }
        stored = {"load": {"mode": spec.mode, "inputs": spec.inputs, "seed": spec.seed}, **(extra or {})}
        spoiled = spec.mode == "open" and attempt < self.spoiled
        unstable = ("invalid", Reason(Why.UNSTABLE, "unstable: the last 3 windows differ"))
        first = self.first or (unstable if self.doubt_first else None)
        status, reasons = (first[0], [first[1]]) if first and spoiled else ("valid", [])
        records = TrialRecords(0, 0, WINDOW_NS, _records(rates, tenants, rho, spec.seed))
        store.save_trial(
            run_id, name, stored, records, TrialSummary(tenants), status, reasons, _telemetry(rho)
        )
        self.log.append(name)
        return None


def _records(
    rates: dict[str, float], tenants: dict[str, dict[str, Any]], rho: dict[str, float], seed: int
) -> list[RequestRecord]:
    """RECORDS requests per tenant served: sent 1/rate apart (s µs late for seed s), each taking the
    tenant's p95; failed when the tenant is overloaded."""
    found = []
    for tenant, rate in sorted(rates.items()):
        if rate <= 0:
            continue
        for j in range(RECORDS):
            intended = round(j * 1e9 / rate) + seed * 1000
            done = intended + round(tenants[tenant]["p95_ms"] * 1e6)
            ok = rho[tenant] < 1
            found.append(RequestRecord(tenant, intended, intended, done, ok, None if ok else "overloaded"))
    return found


def _telemetry(rho: dict[str, float]) -> list[TelemetryRow]:
    """Two samples per tenant: CPU seconds used (its utilisation over the 1 s window) and its memory."""
    rows: list[TelemetryRow] = []
    for tenant, used in sorted(rho.items()):
        rows += [(0, "process", tenant, "cpu_s", 0.0), (0, "process", tenant, "rss_bytes", float(RSS_BYTES))]
        rows += [
            (WINDOW_NS, "process", tenant, "cpu_s", min(used, 1.0)),
            (WINDOW_NS, "process", tenant, "rss_bytes", float(RSS_BYTES)),
        ]
    return rows


@contextmanager
def fake_session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
    yield FakeSession(config)


@contextmanager
def doubting_session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
    yield FakeSession(config, doubt_first=True)


def first_attempts(status: str, reason: Reason, attempts: int = 1) -> Callable[..., Any]:
    """Sessions whose every open-loop probe's first `attempts` attempts come out `status` for `reason`
    (more than the experiment's retries: a probe still in doubt when its retries ran out)."""

    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
        yield FakeSession(config, first=(status, reason), spoiled=attempts)

    return session


def drifting_session(slowdowns: list[float]) -> Callable[..., Any]:
    """Sessions whose servers run slower or faster, one factor per server started, in turn: what makes
    repeated searches of one placement disagree on a real host."""
    started: list[float] = []

    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
        started.append(slowdowns[len(started) % len(slowdowns)])
        yield FakeSession(config, slowdown=started[-1])

    return session


class WouldMeasure(AssertionError):
    pass


@dataclass
class ReplaySession(FakeSession):
    def trial(self, store: Store, run_id: int, name: str, *args: Any, **kwargs: Any) -> Any:
        raise WouldMeasure(f"trial {name!r} is not stored")


@contextmanager
def replay_session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[ReplaySession]:
    yield ReplaySession(config)


class Phases(NullReporter):
    def __init__(self) -> None:
        self.labels: list[str] = []
        self.totals: set[int] = set()
        self.said: list[str] = []  # status lines, as the progress display prints them

    def status(self, text: str) -> None:
        self.said.append(text)

    def trial(self, label: str, index: int, total: int) -> None:
        self.labels.append(label)
        self.totals.add(total)


def run_on(
    store: Store, experiment: Any, session: Any = fake_session, run_id: int | None = None
) -> tuple[int, Phases]:
    """Run a kind's plan with the real lab over `session`; returns the run id and the phases seen."""
    kind = kind_of(experiment.kind)
    spec = experiment.model_dump(mode="json")
    phases = Phases()
    with store.recording(RUN_KIND, spec, {}, resume=run_id) as rid:
        lab = ServerLab(
            store, rid, experiment, phases, Path("/nonexistent"), kind.plan(experiment), session=session
        )
        kind.run(experiment, lab)
    return rid, phases
