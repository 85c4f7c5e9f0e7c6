"""What a plan is asked and what it answers: tenants (model, rate, SLA), the machine types they may use
(price, memory, capacity model), and the machines a plan rents with the tenants on each. Also the two
figures every plan is compared with: each tenant on its cheapest machines of its own, and the LP bound."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property

from perseus.core.errors import ConfigError
from perseus.core.sla import parse_sla
from perseus.planner.capacity import Capacity


@dataclass(frozen=True)
class Tenant:
    name: str
    model: str
    rate_rps: float
    sla: str  # e.g. "p95=100ms"


@dataclass(frozen=True)
class MachineType:
    id: str
    usd_per_h: float
    memory_bytes: float  # usable by the tenants' server processes (the machine's, less the server's own)
    capacity: Capacity

    def serves(self, tenant: Tenant) -> bool:
        """The model is profiled on this type, under an SLA at least as strict as the tenant's, and its
        server processes fit the machine's memory."""
        profile = self.capacity.profile.models.get(tenant.model)
        return (
            profile is not None
            and sla_covers(profile.sla, tenant.sla)
            and profile.memory_bytes <= self.memory_bytes
        )


@cache
def sla_covers(measured: str, wanted: str) -> bool:
    """λ measured under `measured` holds for `wanted`: the same percentile or a lower one, and a bound no
    looser than the wanted one."""
    m, w = parse_sla(measured), parse_sla(wanted)
    return m.percentile >= w.percentile and m.threshold_ns <= w.threshold_ns


@dataclass(frozen=True)
class Problem:
    tenants: tuple[Tenant, ...]
    types: tuple[MachineType, ...]

    @cached_property
    def by_name(self) -> dict[str, Tenant]:
        return {t.name: t for t in self.tenants}

    def type(self, type_id: str) -> MachineType:
        return next(t for t in self.types if t.id == type_id)

    def check(self) -> None:
        """Every tenant can be served by some type, or one line says why not."""
        for tenant in self.tenants:
            if tenant.rate_rps <= 0:
                raise ConfigError(f"tenant {tenant.name}: rate must be > 0")
            if not any(t.serves(tenant) for t in self.types):
                raise ConfigError(f"tenant {tenant.name}: {why_not(tenant, self.types)}")


def why_not(tenant: Tenant, types: Sequence[MachineType]) -> str:
    profiled = [t for t in types if tenant.model in t.capacity.profile.models]
    tried = [t for t in types if tenant.model in t.capacity.profile.unmet]
    if not profiled and tried:
        largest = max(tried, key=lambda t: t.memory_bytes)
        return (
            f"{tenant.model} never met {largest.capacity.profile.unmet[tenant.model]} even alone on any "
            f"machine type profiled (the largest: {largest.id}): no plan can serve it"
        )
    if not profiled:
        return (
            f"no profile of model {tenant.model} on any machine type planned: add it to a profile's models "
            "and run it (e.g. experiments/profile-6cnn.yaml)"
        )
    slas = sorted({t.capacity.profile.models[tenant.model].sla for t in profiled})
    if not any(sla_covers(t.capacity.profile.models[tenant.model].sla, tenant.sla) for t in profiled):
        return (
            f"SLA {tenant.sla} is stricter than {tenant.model} was profiled under ({', '.join(slas)}): "
            "profile it under this SLA"
        )
    return f"{tenant.model} does not fit the memory of any machine type planned"


@dataclass(frozen=True)
class PlannedMachine:
    type: str
    tenants: dict[str, float]  # tenant name → req/s served here
    models: dict[str, float]  # model → req/s served here (tenants of one model share one served model)
    predicted_load: float  # ≤ 1 fits; 1 − this is the headroom
    usd_per_h: float
    dedicated: bool  # holds one model at its best setting alone
    flags: tuple[str, ...] = ()  # what is predicted rather than measured

    @property
    def headroom(self) -> float:
        return 1.0 - self.predicted_load


@dataclass(frozen=True)
class Plan:
    method: str  # milp | greedy | dedicated
    machines: tuple[PlannedMachine, ...]
    lower_bound_usd_per_h: float
    notes: tuple[str, ...] = ()
    solver: Mapping[str, object] = field(default_factory=dict)  # status, time, MILP gap

    @property
    def usd_per_h(self) -> float:
        return sum(m.usd_per_h for m in self.machines)

    @property
    def gap(self) -> float:
        """How far above the LP bound the plan may be (0: proven optimal against the bound)."""
        cost = self.usd_per_h
        return (cost - self.lower_bound_usd_per_h) / cost if cost > 0 else 0.0


def machine(kind: MachineType, tenants: Mapping[str, float], problem: Problem) -> PlannedMachine:
    """A planned machine of this type holding these tenants (req/s each)."""
    models: dict[str, float] = {}
    for name, rate in tenants.items():
        model = problem.by_name[name].model
        models[model] = models.get(model, 0.0) + rate
    load = kind.capacity.load(models)
    flags = [*kind.capacity.flags(models)]
    if kind.capacity.profile.extrapolated_from:
        flags.append(f"λ extrapolated from {kind.capacity.profile.extrapolated_from}")
    return PlannedMachine(
        kind.id, dict(tenants), models, load, kind.usd_per_h, len(models) == 1, tuple(flags)
    )


def lower_bound(problem: Problem) -> float:
    """A cost no plan can go below: each tenant's work at its best λ on the type where work is cheapest,
    machines filled exactly, with the largest gain any measured pair showed (the LP relaxation of the
    placement, aggregated)."""
    total = 0.0
    for tenant in problem.tenants:
        costs = [
            kind.usd_per_h * tenant.rate_rps / (kind.capacity.best(tenant.model) * most_work(kind))
            for kind in problem.types
            if kind.serves(tenant)
        ]
        total += min(costs)
    return total


def most_work(kind: MachineType) -> float:
    """The most work (in dedicated machines) one machine of this type can carry: 1, or more by a gain."""
    return 1.0 - min([0.0, *kind.capacity.kappa.values()]) if not kind.capacity.blind else 1.0


def own_machines(tenant: Tenant, kind: MachineType) -> int:
    return math.ceil(tenant.rate_rps / kind.capacity.best(tenant.model) - 1e-9)


def dedicated(problem: Problem) -> Plan:
    """Each tenant on machines of its own at its best setting: the cheapest of n machines of one type
    (the rate spread evenly), or of as many of one type as it fills and one machine of another for the
    rest."""
    machines: list[PlannedMachine] = []
    for tenant in problem.tenants:
        rate = tenant.rate_rps
        options: list[tuple[float, list[tuple[MachineType, float]]]] = []
        kinds = [k for k in problem.types if k.serves(tenant)]
        for bulk in kinds:
            n = own_machines(tenant, bulk)
            options.append((n * bulk.usd_per_h, [(bulk, rate / n)] * n))
            lam = bulk.capacity.best(tenant.model)
            full = math.floor(rate / lam + 1e-9)
            rest = rate - full * lam
            if full == 0 or rest <= 1e-9:
                continue
            for tail in kinds:
                if tail.capacity.best(tenant.model) >= rest:
                    cost = full * bulk.usd_per_h + tail.usd_per_h
                    options.append((cost, [(bulk, lam)] * full + [(tail, rest)]))
        _, parts = min(options, key=lambda option: option[0])
        machines += [machine(kind, {tenant.name: share}, problem) for kind, share in parts]
    return Plan("dedicated", tuple(machines), lower_bound(problem))
