"""What a plan is asked and what it answers: tenants (model, rate, SLA), the machine types they may use
(price, memory, capacity model), and the machines a plan rents with the tenants on each. Also the figures
every plan is compared with: each model on its cheapest machines of its own (its tenants pooled), and the
LP bound; and how a model's tenants are cut over machines (`cut`)."""

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
    # The least req/s of it a machine may serve (a part a validation can judge): it is cut no finer.
    min_part_rps: float = 0.0


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

    @cached_property
    def by_model(self) -> dict[str, tuple[Tenant, ...]]:
        """Tenants grouped by model, in the order the models first appear."""
        groups: dict[str, list[Tenant]] = {}
        for tenant in self.tenants:
            groups.setdefault(tenant.model, []).append(tenant)
        return {m: tuple(g) for m, g in groups.items()}

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
        known = {name: m.spec for t in types for name, m in t.capacity.profile.models.items()}
        listed = ", ".join(n if s == n else f"{n} = {s}" for n, s in sorted(known.items()))
        return (
            f"no profile of model {tenant.model} on any machine type planned (profiled: {listed}; a tenant "
            "names a model by its name or its spec): add it to a profile's models and run it "
            "(e.g. experiments/profile-6cnn.yaml)"
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
    crumbs = too_small(problem, tenants)
    if crumbs:
        flags.append(f"too small a part to judge in a validation: {', '.join(crumbs)}")
    if kind.capacity.profile.extrapolated_from:
        flags.append(f"λ extrapolated from {kind.capacity.profile.extrapolated_from}")
    return PlannedMachine(
        kind.id, dict(tenants), models, load, kind.usd_per_h, len(models) == 1, tuple(flags)
    )


def too_small(problem: Problem, tenants: Mapping[str, float]) -> list[str]:
    """The tenants whose part here (req/s) is below the least a validation can judge (and not the whole)."""
    return [
        name
        for name, rate in tenants.items()
        if rate < min(problem.by_name[name].min_part_rps, problem.by_name[name].rate_rps) - 1e-6
    ]


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


def own_machines(rate_rps: float, model: str, kind: MachineType) -> int:
    """Machines of this type a model needs alone, at its best setting, to serve this rate."""
    return math.ceil(rate_rps / kind.capacity.best(model) - 1e-9)


def dedicated(problem: Problem) -> Plan:
    """The baseline every saving is against: each model on machines of its own, its tenants' rates pooled
    (one-model-per-machine serving pools them too) at its best setting, on the cheapest choice of types;
    a type serves a model when it serves each of its tenants (the strictest SLA). A model no one type
    serves whole has its tenants placed apart."""
    machines: list[PlannedMachine] = []
    for model, group in problem.by_model.items():
        kinds = [k for k in problem.types if all(k.serves(t) for t in group)]
        if not kinds:
            for tenant in group:
                machines += _alone(problem, model, {tenant.name: tenant.rate_rps}, _serving(problem, tenant))
            continue
        machines += _alone(problem, model, {t.name: t.rate_rps for t in group}, kinds)
    return Plan("dedicated", tuple(machines), lower_bound(problem))


def dedicated_per_tenant(problem: Problem) -> Plan:
    """Each tenant on machines of its own at its best setting, tenants of one model apart: a second,
    looser baseline (it also counts, as a saving, pooling the tenants of one model)."""
    machines: list[PlannedMachine] = []
    for tenant in problem.tenants:
        machines += _alone(problem, tenant.model, {tenant.name: tenant.rate_rps}, _serving(problem, tenant))
    return Plan("dedicated per tenant", tuple(machines), lower_bound(problem))


def _serving(problem: Problem, tenant: Tenant) -> list[MachineType]:
    return [k for k in problem.types if k.serves(tenant)]


def _alone(
    problem: Problem, model: str, parts: Mapping[str, float], kinds: Sequence[MachineType]
) -> list[PlannedMachine]:
    """One model's tenants (req/s each) on its cheapest machines of its own: n machines of one type (the
    rate spread evenly), or as many of one type as it fills and one machine of another for the rest."""
    rate = sum(parts.values())
    options: list[tuple[float, list[tuple[MachineType, float]]]] = []
    for bulk in kinds:
        n = own_machines(rate, model, bulk)
        options.append((n * bulk.usd_per_h, [(bulk, rate / n)] * n))
        lam = bulk.capacity.best(model)
        full = math.floor(rate / lam + 1e-9)
        rest = rate - full * lam
        if full == 0 or rest <= 1e-9:
            continue
        for tail in kinds:
            if tail.capacity.best(model) >= rest:
                cost = full * bulk.usd_per_h + tail.usd_per_h
                options.append((cost, [(bulk, lam)] * full + [(tail, rest)]))
    _, chosen = min(options, key=lambda option: option[0])
    if len({kind.id for kind, _ in chosen}) == 1:
        kind = chosen[0][0]
        loads = even(parts, len(chosen), kind.capacity.best(model), least(problem, parts))
    else:  # each machine a fixed part of every tenant
        loads = [{name: r * share / rate for name, r in parts.items()} for _, share in chosen]
    return [machine(kind, served, problem) for (kind, _), served in zip(chosen, loads, strict=True)]


def least(problem: Problem, parts: Mapping[str, float]) -> dict[str, float]:
    """Each tenant's least part (req/s), by name."""
    return {name: problem.by_name[name].min_part_rps for name in parts}


def even(parts: Mapping[str, float], n: int, cap: float, low: Mapping[str, float]) -> list[dict[str, float]]:
    """One model's tenants (req/s each) over n machines of their own, each serving up to `cap`: filled in
    turn to the even level, no tenant cut finer than its least part (`low`) where the capacity allows (if
    the even level leaves a part over, filled to `cap` instead: fuller machines leave fewer cuts); otherwise
    each tenant spread evenly over all n."""
    for level in (sum(parts.values()) / n, cap):
        machines, rest = cut(parts, n, level, cap, low)
        if not rest:
            return machines
    return [{name: r / n for name, r in parts.items()} for _ in range(n)]


def cut(
    parts: Mapping[str, float], n: int, level: float, cap: float, low: Mapping[str, float]
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Tenants of one model (req/s each, largest first) filled into n machines in turn, each to `level`,
    a tenant cut where a machine is full; what does not fit is returned as the rest. A cut never leaves a
    part of a tenant below its `low` (req/s): the whole of it goes on this machine if it fits under `cap`,
    else that much is left for the next one; a part below `low` waits for the next machine."""
    tiny = 1e-9 * max(cap, 1e-9)
    fill = [0.0] * n
    machines: list[dict[str, float]] = [{} for _ in range(n)]
    rest: dict[str, float] = {}
    j = 0
    for name, rate in sorted(parts.items(), key=lambda item: -item[1]):
        left = rate
        while left > tiny:
            if j >= n:
                rest[name] = left
                break
            take = max(0.0, min(left, level - fill[j]))
            floor = min(low.get(name, 0.0), rate)
            if take < left - tiny:  # a cut: neither side may be a crumb
                if left - take < floor:
                    take = left if fill[j] + left <= cap + tiny else left - floor
                if take < floor:
                    take = 0.0
            if take > tiny:
                machines[j][name] = machines[j].get(name, 0.0) + take
                fill[j] += take
                left -= take
            if left > tiny:
                j += 1
    return machines, rest
