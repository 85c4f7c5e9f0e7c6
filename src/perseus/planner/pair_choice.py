"""Which pairs a profile measures when it measures only those a fleet's plan needs (`profile: {pairs: auto,
fleet: FILE}`): the fleet planned on the one machine type profiled, from what is measured so far, every
pair not measured yet at a cautious κ; the pairs that plan co-locates and that are not measured are the
next round's (with `sets`, a planned machine of 3+ models is measured as one set instead of its pairs: one
search where its pairs would take N(N−1)/2, and it is the set the plan puts on a machine; capacity.fit gives
its pairs not measured the set's κ). Rounds go on until a plan co-locates only measured pairs (or one
keeping every pair not measured apart costs as much). Pure: the profile kind runs the
rounds while it measures, and its analysis replays them over the stored trials (the same rounds)."""

import itertools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

from perseus.config.plan import PlanFile
from perseus.config.prices import Machine
from perseus.core.errors import ConfigError
from perseus.core.sla import parse_sla
from perseus.planner import solve
from perseus.planner.capacity import CAUTIOUS_KAPPA, Capacity, Pair, fit, pair
from perseus.planner.problem import MachineType, Plan, Problem, Tenant
from perseus.planner.profile import MachineProfile

# κ of a pair not measured when the fleet is planned without any such pair: its load is over 1 whatever
# its works (2, not 1: a pair at κ 1 with works a solver rounds to 0 would still fit).
APART = 2.0
GIB = 2.0**30


@dataclass(frozen=True)
class Demand:
    """A fleet as the choice plans it: its tenants, on machines of the one type profiled."""

    tenants: tuple[Tenant, ...]
    machine: str  # the price catalog's id of the type profiled
    usd_per_h: float
    memory_bytes: float  # usable by the tenants' server processes
    method: solve.Method = "auto"
    time_limit_s: float = 10.0
    sets: bool = False  # a planned machine of 3+ models measured as one set, not its pairs


Models = tuple[str, ...]  # a co-location the rounds measure: a pair, or (with sets) a machine's set, sorted


@dataclass(frozen=True)
class Round:
    """One round of the choice: the plan made from the co-locations measured before it."""

    number: int  # 1, 2, ...
    pairs: tuple[Models, ...]  # co-located by this round's plan and not measured before it: measured next
    usd_per_h: float  # what this round's plan costs (pairs not measured at CAUTIOUS_KAPPA)
    machines: int


@dataclass(frozen=True)
class Choice:
    """The rounds one profile pass ran, and what they left."""

    rounds: tuple[Round, ...]  # the last one's `pairs` empty when the choice finished
    unplanned: tuple[str, ...] = ()  # tenants no machine of the type can serve (SLA, memory): not planned

    @property
    def finished(self) -> bool:
        """The last round's plan co-locates only measured pairs (else a round's pairs are not all stored)."""
        return bool(self.rounds) and not self.rounds[-1].pairs

    @property
    def measured(self) -> dict[Models, int]:
        """Each co-location measured (a pair, or with sets a set), and the round whose plan co-located it."""
        return {p: r.number for r in self.rounds for p in r.pairs}

    @property
    def covered(self) -> dict[Pair, int]:
        """Each pair measured, and the round that measured it: alone, else inside a set (the first)."""
        found = {pair(*m): number for m, number in self.measured.items() if len(m) == 2}
        for models, number in sorted(self.measured.items(), key=lambda item: item[1]):
            for a, b in itertools.combinations(models, 2):
                found.setdefault(pair(a, b), number)
        return found


def least_part(sla: str, validate_s: float) -> float:
    """The least req/s of a tenant one machine may serve: what gives its SLA percentile the latencies it
    needs within a validation's measured seconds (a finer part could not be judged)."""
    return parse_sla(sla).min_samples / validate_s


def tenants_of(plan: PlanFile, refs: Mapping[str, str]) -> tuple[Tenant, ...]:
    """A plan file's tenants, each model as `refs` names it (what a tenant may call a model, its name or
    its spec → the model's name in the profile; a name `refs` lacks is kept as written), each with the
    least part a validation can judge."""
    return tuple(
        Tenant(n, refs.get(t.model, t.model), t.rate, t.sla, least_part(t.sla, plan.validate_s))
        for n, t in zip(plan.tenant_names(), plan.tenants, strict=True)
    )


def usable_memory(plan: PlanFile, machine: Machine) -> float:
    """Bytes of a machine the tenants' server processes may use: its memory less the plan's server's."""
    return (machine.memory_gib - plan.server_memory_gib) * GIB


def demand_of(plan: PlanFile, machine: Machine, refs: Mapping[str, str]) -> Demand:
    """The fleet of a plan file on `machine` (the type profiled). `refs` as in `tenants_of`; a tenant naming
    a model the profile lacks is refused."""
    unknown = sorted({t.model for t in plan.tenants if t.model not in refs})
    if unknown:
        raise ConfigError(
            f"the fleet's tenants name {', '.join(unknown)}, not among the profile's models "
            f"({', '.join(sorted(set(refs.values())))})"
        )
    memory = usable_memory(plan, machine)
    return Demand(
        tenants_of(plan, refs), machine.id, machine.usd_per_h, memory, plan.method, plan.time_limit_s
    )


def cautious(
    profile: MachineProfile, measured: Collection[Models], guess: float = CAUTIOUS_KAPPA
) -> Capacity:
    """The capacity model of the profile's co-locations among `measured` (pairs, and sets the rounds chose:
    a configured set is measured after the rounds, so counting it would make a replay choose otherwise);
    every pair neither measured nor inside a measured set at `guess` (not above: a pair the pressures of
    a few bad pairs predict bad may still be worth measuring; `fit`, which `perseus plan` uses, takes the
    larger of the two, so its plan is never bolder than the rounds')."""
    chosen = {tuple(sorted(m)) for m in measured}
    kept = tuple(c for c in profile.colocations if tuple(sorted(c.models)) in chosen)
    fitted = fit(replace(profile, colocations=kept))
    kappa = {p: k if p in fitted.covered else guess for p, k in fitted.kappa.items()}
    return replace(fitted, kappa=kappa)


def problem_of(
    demand: Demand, profile: MachineProfile, measured: Collection[Models], guess: float = CAUTIOUS_KAPPA
) -> Problem:
    """The fleet's problem on the type profiled, pairs not measured at κ `guess`; tenants the type cannot
    serve (a model with no λ alone, a stricter SLA than profiled, memory) left out."""
    capacity = cautious(profile, measured, guess)
    kind = MachineType(demand.machine, demand.usd_per_h, demand.memory_bytes, capacity)
    return Problem(tuple(t for t in demand.tenants if kind.serves(t)), (kind,))


def colocated(planned: Plan) -> set[Pair]:
    """The pairs of different models some machine of the plan holds together."""
    return {pair(a, b) for m in planned.machines for a, b in itertools.combinations(sorted(m.models), 2)}


def to_measure(
    planned: Plan, covered: Collection[Pair], sets: bool, measured: Collection[Models] = ()
) -> tuple[Models, ...]:
    """What the plan co-locates that is not measured: its machines' pairs not `covered` (a κ resting on a
    measurement); with `sets`, a machine of 3+ models holding such a pair is measured as its whole set
    instead, unless that set was `measured` already and told nothing of the pair (it could not be judged
    at a load it could carry: capacity.set_kappas): then the pair alone."""
    found: set[Models] = set()
    for m in planned.machines:
        models = tuple(sorted(set(m.models)))
        missing = [pair(a, b) for a, b in itertools.combinations(models, 2) if pair(a, b) not in covered]
        if sets and len(models) >= 3 and missing and models not in measured:
            found.add(models)
        else:
            found |= set(missing)
    return tuple(sorted(m for m in found if m not in measured))


def next_round(demand: Demand, profile: MachineProfile, measured: Collection[Models], number: int) -> Round:
    """Round `number`: the fleet planned with the co-locations `measured` so far and every other pair at
    the cautious κ, and what that plan co-locates that is not measured (to_measure). None when planning
    with no such pair at all costs as little: a plan of equal cost may put a guessed pair together for
    nothing (a part of a tenant beside another on a machine that was rented anyway), and that is no reason
    to measure it."""
    problem = problem_of(demand, profile, measured)
    if not problem.tenants:
        return Round(number, (), 0.0, 0)
    guessed = solve.plan(problem, demand.method, demand.time_limit_s)
    covered = cautious(profile, measured).covered
    new = to_measure(guessed, covered, demand.sets, {tuple(sorted(m)) for m in measured})
    if new:
        safe = solve.plan(problem_of(demand, profile, measured, APART), demand.method, demand.time_limit_s)
        if safe.usd_per_h <= guessed.usd_per_h * (1 + 1e-9):
            return Round(number, (), safe.usd_per_h, len(safe.machines))
    return Round(number, new, guessed.usd_per_h, len(guessed.machines))


def choose(
    demand: Demand,
    profile_of: Callable[[], MachineProfile],
    measure: Callable[[tuple[Models, ...]], bool],
) -> Choice:
    """The rounds: plan from what is measured (`profile_of()`, read again each round; only the pairs
    chosen in earlier rounds count, so a resumed run, whose store holds later rounds' pairs too, chooses
    as it did), `measure` the pairs its plan needs that are not measured (False: they are not, and the
    rounds stop there), again until a plan needs no pair not measured. Ends: every round measures a pair
    more, and there are finitely many."""
    measured: set[Models] = set()
    rounds: list[Round] = []
    while True:
        profile = profile_of()
        found = next_round(demand, profile, measured, len(rounds) + 1)
        rounds.append(found)
        if not found.pairs:
            break
        measured |= set(found.pairs)
        if not measure(found.pairs):
            break
    served = problem_of(demand, profile, measured).tenants
    return Choice(tuple(rounds), tuple(t.name for t in demand.tenants if t not in served))
