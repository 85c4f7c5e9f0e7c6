"""A model of a server session for unit tests of the experiment kinds: the real ServerLab, probes,
searches, store and analyses run over it, but a trial is computed, not measured. Each tenant is an M/D/c
queue; CPU-bound models (synthetic-cpu) share one core, sleeping ones (synthetic-sleep)
only their instances; p95 grows as the load nears capacity. `replay_session` measures nothing at all."""

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
from perseus.core.records import TrialRecords
from perseus.experiments.registry import kind_of
from perseus.experiments.results import RUN_KIND
from perseus.loadgen import LoadSpec
from perseus.orchestrate.runner import ServerLab
from perseus.store import Store, TrialSummary

CORES = 1.0  # CPU-bound tenants share this many cores (the stubs of a 2-core host, with the server)


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
    slowdown: float = 1.0  # every service time × this: a server start that landed on a slower host

    def service_ms(self, model: str) -> float:
        return service_ms(model) * self.slowdown

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
                "throughput_rps": served,
                "p95_ms": p95,
                "sla": None if target is None else target.label,
                "sla_met": met,
                "qos_satisfaction": None if met is None else (1.0 if met else 0.5),
            }
        stored = {"load": {"mode": spec.mode, "inputs": spec.inputs}, **(extra or {})}
        first_attempt = "|attempt" not in name and spec.mode == "open"
        unstable = ("invalid", Reason(Why.UNSTABLE, "unstable: the last 3 windows differ"))
        first = self.first or (unstable if self.doubt_first else None)
        status, reasons = (first[0], [first[1]]) if first and first_attempt else ("valid", [])
        store.save_trial(run_id, name, stored, TrialRecords(0, 0, 1), TrialSummary(tenants), status, reasons)
        self.log.append(name)
        return None


@contextmanager
def fake_session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
    yield FakeSession(config)


@contextmanager
def doubting_session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
    yield FakeSession(config, doubt_first=True)


def first_attempts(status: str, reason: Reason) -> Callable[..., Any]:
    """Sessions whose every open-loop probe's first attempt comes out `status` for `reason`."""

    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
        yield FakeSession(config, first=(status, reason))

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
