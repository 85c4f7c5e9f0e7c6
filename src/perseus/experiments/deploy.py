"""Kind `deploy`: a plan's machines served as planned, to check the plan by measurement. Each machine is
one server holding its models (at the knobs the plan gives them), driven open loop (Poisson) at the
planned rates; each tenant's p95 is judged against its own SLA. `perseus plan --validate` writes it."""

import math
import statistics
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, Self

from pydantic import Field, model_validator

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase, Strict, known
from perseus.core.reasons import DOUBTS, Why
from perseus.core.sla import parse_sla
from perseus.experiments.analysis import offered, probes_of, trials_of
from perseus.experiments.lab import Lab
from perseus.experiments.placements import ESTIMATE, alone, dedicated, placement
from perseus.store import Placement, TrialRow
from perseus.store.judge import judge, judged, latency_ms

NAME = "deploy"
REPORT = "perseus.report.kinds.deploy"
VALIDATE = "validate"
DRIFT = 0.15  # the host's speed against the profile's, beyond which a validation says so


class DeployTenant(Strict):
    name: str = Field(min_length=1, description="the tenant's name in the plan")
    model: str = Field(min_length=1, description="one of the experiment's models (its key)")
    rate: float = Field(gt=0, description="req/s the plan gives it on this machine")
    sla: str = Field(description="its own latency target, e.g. p95=100ms")


class DeployMachine(Strict):
    type: str = Field(min_length=1, description="the machine type planned")
    tenants: tuple[DeployTenant, ...] = Field(min_length=1, description="who the plan puts on it")
    knobs: dict[str, dict[str, int | bool]] = Field(
        default_factory=dict, description="per model, knobs that differ here (a model alone at its best)"
    )
    predicted_load: float = Field(ge=0, description="what the capacity model predicted")


class DeploySettings(Strict):
    plan: str = Field(default="", description="which plan these machines are")
    machines: tuple[DeployMachine, ...] = Field(min_length=1, description="the machines deployed one by one")
    reference: dict[str, float] = Field(
        default_factory=dict,
        description="per model (key): its closed-loop req/s alone when it was profiled (as configured, or at "
        "reference_knobs); each is measured again first, so a validation says whether the host is as fast as "
        "when profiled",
    )
    reference_knobs: dict[str, dict[str, int | bool]] = Field(
        default_factory=dict,
        description="per reference model, the knobs its look alone is at (the setting the plan serves it at "
        "alone); a model not named: as configured",
    )


class Settings(ExperimentBase):
    kind: Literal["deploy"]
    deploy: DeploySettings = Field(description="the planned machines")

    @model_validator(mode="after")
    def _planned_models(self) -> Self:
        """Every model a machine names (a tenant's, a knob's) is one of the experiment's, by its key."""
        keys = self.model_keys()
        named = [
            (f"deploy.machines.{i}", [*(t.model for t in m.tenants), *m.knobs])
            for i, m in enumerate(self.deploy.machines)
        ]
        refs = [("deploy.reference", list(self.deploy.reference))]
        refs += [("deploy.reference_knobs", list(self.deploy.reference_knobs))]
        for where, names in [*named, *refs]:
            known(where, names, keys)
        return self

    def looked_at(self, key: str) -> Placement:
        """Where reference model `key`'s look alone is measured: alone at its reference knobs."""
        return dedicated(self, key, self.deploy.reference_knobs.get(key))


Verdict = Literal["held", "missed", "unjudged"]


@dataclass(frozen=True)
class TenantCheck:
    name: str
    model: str
    rate_rps: float
    sla: str
    served_rps: float
    latency_ms: float  # at the SLA's percentile
    qos_satisfaction: float | None  # of the model's requests, within the model's strictest SLA
    met: bool
    why: str
    doubt: bool = False  # not met only because the measurement is in doubt (late sends), not by latency


@dataclass(frozen=True)
class Deployed:
    index: int
    type: str
    predicted_load: float
    tenants: list[TenantCheck]
    measured: bool  # its trial is stored

    @property
    def met(self) -> bool:
        return self.measured and all(t.met for t in self.tenants)


@dataclass(frozen=True)
class Findings:
    plan: str
    machines: list[Deployed]
    speed: dict[str, float] = field(default_factory=dict)  # per model: closed-loop req/s now / when profiled

    @property
    def met(self) -> bool:
        return all(m.met for m in self.machines)

    @property
    def host_ratio(self) -> float | None:
        """The host's speed now over when profiled: the median over the models measured alone."""
        return statistics.median(self.speed.values()) if self.speed else None

    @property
    def missed(self) -> list[TenantCheck]:
        return [t for m in self.machines for t in m.tenants if not t.met]

    @property
    def verdict(self) -> Verdict:
        """held: every tenant met its SLA; missed: some tenant's latency missed it; unjudged: none missed,
        but some could not be judged (a machine not measured, the load generator held back)."""
        judged = [t for m in self.machines if m.measured for t in m.tenants]
        if any(not t.met and not t.doubt for t in judged):
            return "missed"
        if self.missed or not all(m.measured for m in self.machines):
            return "unjudged"
        return "held"


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def server_of(exp: Settings, index: int) -> tuple[Placement, tuple[TenantConfig, ...]]:
    machine = exp.deploy.machines[index]
    keys = list(dict.fromkeys(t.model for t in machine.tenants))
    configured = dict(zip(exp.model_keys(), exp.models, strict=True))
    tenants = tuple(configured[k].model_copy(update=machine.knobs.get(k, {})) for k in keys)
    return placement("deployed", tenants, keys, {"machine": index + 1, "type": machine.type}), tenants


def plan(experiment: ExperimentBase) -> list[str]:
    exp = _settings(experiment)
    return [exp.looked_at(key).label() for key in exp.deploy.reference] + [
        server_of(exp, i)[0].label() for i in range(len(exp.deploy.machines))
    ]


def run(experiment: ExperimentBase, lab: Lab) -> None:
    exp = _settings(experiment)
    lab.each(list(exp.deploy.reference), partial(_speed, exp, lab))  # the host's speed first
    lab.each(range(len(exp.deploy.machines)), partial(_deployed, exp, lab))


def _speed(exp: Settings, lab: Lab, key: str) -> None:
    """The host's speed for one model: alone, a short closed loop (compared with its profile's)."""
    where = exp.looked_at(key)
    lab.phase(where.label())
    with lab.serve(where, (alone(exp, key, exp.deploy.reference_knobs.get(key)),)) as server:
        server.estimate()


def _deployed(exp: Settings, lab: Lab, index: int) -> None:
    """One planned machine: its tenants on one server, at their planned rates, open loop."""
    machine = exp.deploy.machines[index]
    where, tenants = server_of(exp, index)
    lab.phase(where.label())
    rates: dict[str, float] = {}
    for tenant in machine.tenants:
        name = where.tenant_of(tenant.model)
        assert name is not None
        rates[name] = rates.get(name, 0.0) + tenant.rate
    with lab.serve(where, tenants) as server:
        server.trial(rates, VALIDATE)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    machines: list[Deployed] = []
    for index, machine in enumerate(exp.deploy.machines):
        where, _ = server_of(exp, index)
        rows = probes_of(trials, where, VALIDATE)
        checks = []
        for tenant in machine.tenants:
            name = where.tenant_of(tenant.model)
            assert name is not None
            checks.append(_check(rows[-1] if rows else None, name, tenant))
        machines.append(Deployed(index + 1, machine.type, machine.predicted_load, checks, bool(rows)))
    found = Findings(exp.deploy.plan, machines, host_speed(exp, trials))
    ratio = found.host_ratio
    if ratio is not None and abs(ratio - 1) > DRIFT:
        warnings.append(
            f"this host served {ratio:.2f}× the closed-loop rate it did when profiled (median of "
            f"{len(found.speed)} models alone): it is {'slower' if ratio < 1 else 'faster'} than the plan "
            "assumed, so an SLA missed here may be the host's, not the plan's — profile it again"
        )
    return found


def host_speed(exp: Settings, trials: list[TrialRow]) -> dict[str, float]:
    """Each reference model's closed-loop req/s alone now, over its rate when profiled."""
    speed = {}
    for key, then in exp.deploy.reference.items():
        where = exp.looked_at(key)
        (name,) = where.names
        rows = trials_of(trials, where, ESTIMATE, tenant=name)
        if rows and then > 0:
            speed[key] = float(rows[-1].summary.value(name, "throughput_rps", 0.0)) / then
    return speed


def _check(attempts: list[TrialRow] | None, name: str, tenant: DeployTenant) -> TenantCheck:
    """One planned tenant against its own SLA, on every attempt of its machine's trial together (a
    validation in doubt is measured again and judged as a probe is)."""
    if not attempts:
        return TenantCheck(
            tenant.name,
            tenant.model,
            tenant.rate,
            tenant.sla,
            math.nan,
            math.nan,
            None,
            False,
            "not measured",
        )
    target = parse_sla(tenant.sla)
    trial = attempts[-1]
    used = judged(attempts) or [trial]
    latency = latency_ms(attempts, name, target.percentile)
    throughput = statistics.fmean(float(a.summary.value(name, "throughput_rps", math.nan)) for a in used)
    served = throughput * tenant.rate / offered(trial)[name]
    verdict = judge(attempts, [name])  # overload, errors, late sends, too few latencies: as a probe is
    within = latency * 1e6 <= target.threshold_ns
    met = within and (verdict.feasible or (not verdict.refused and name in verdict.missed))
    why = "ok" if met else (f"{target.label} missed ({latency:.1f} ms)" if not within else verdict.detail)
    # Within its SLA, but the host held back the load generator's sends, or too few of its latencies came
    # back to judge its percentile: not met, and said to be a doubt (the measurement's, not the plan's).
    doubt = within and not met and verdict.refused <= DOUBTS | {Why.TOO_FEW_LATENCIES}
    shares = [a.summary.value(name, "qos_satisfaction") for a in used]
    known = [float(q) for q in shares if q is not None]
    qos = statistics.fmean(known) if known else None
    return TenantCheck(
        tenant.name, tenant.model, tenant.rate, tenant.sla, served, latency, qos, met, why, doubt
    )
