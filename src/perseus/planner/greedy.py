"""The fast planner, for fleets too large for the MILP: first-fit decreasing. Per machine type, each
tenant first fills machines of its own (at its best setting) and its remainder becomes a piece; pieces
go, largest first, onto the first machine of that type where the capacity model and memory still allow
them. The cheapest type's plan is kept, then each machine moves to the cheapest type that still holds it."""

from dataclasses import dataclass, field

from perseus.planner.capacity import gain_slope
from perseus.planner.problem import (
    MachineType,
    Plan,
    PlannedMachine,
    Problem,
    Tenant,
    lower_bound,
    machine,
)

TRIED = 3  # machine types packed, cheapest work first


@dataclass
class _Open:
    """A machine being filled: the rate of each model and tenant on it, its memory in use, and its load
    as the capacity model predicts it, kept in parts so a piece is tried in O(models on it)."""

    models: dict[str, float] = field(default_factory=dict)  # req/s
    tenants: dict[str, float] = field(default_factory=dict)
    work: dict[str, float] = field(default_factory=dict)  # r/λ of each model
    memory: float = 0.0
    total: float = 0.0  # Σ r/λ
    penalty: float = 0.0  # Σ κ of its interfering pairs
    gain: float = 0.0  # the largest gain of one pair (see Capacity.pair_terms)

    def trial(self, kind: MachineType, model: str, work: float) -> tuple[float, float] | None:
        """The (penalty, gain) with this piece added, or None when its memory does not fit."""
        cap = kind.capacity
        if model not in self.work and self.memory + cap.memory(model) > kind.memory_bytes:
            return None
        row = cap.row(model)
        mine = self.work.get(model, 0.0) + work
        penalty, gain = self.penalty, self.gain
        for other, theirs in self.work.items():
            if other == model:
                continue
            kappa = row[other]
            if kappa > 0 and model not in self.work:
                penalty += kappa
            elif kappa < 0:
                gain = max(gain, min(-kappa, gain_slope(kappa) * min(theirs, mine)))
        return penalty, gain

    def fits(self, kind: MachineType, model: str, rate: float, work: float) -> bool:
        if self.work.keys() <= {model}:  # one model alone: served at its best setting
            return self.models.get(model, 0.0) + rate <= kind.capacity.best(model) * (1.0 + 1e-9)
        found = self.trial(kind, model, work)
        return found is not None and self.total + work + found[0] - found[1] <= 1.0 + 1e-9

    def place(self, kind: MachineType, tenant: Tenant, work: float) -> None:
        found = self.trial(kind, tenant.model, work)
        assert found is not None
        self.penalty, self.gain = found
        if tenant.model not in self.work:
            self.memory += kind.capacity.memory(tenant.model)
        self.work[tenant.model] = self.work.get(tenant.model, 0.0) + work
        self.models[tenant.model] = self.models.get(tenant.model, 0.0) + tenant.rate_rps
        self.tenants[tenant.name] = self.tenants.get(tenant.name, 0.0) + tenant.rate_rps
        self.total += work


def _on_type(problem: Problem, kind: MachineType) -> list[dict[str, float]] | None:
    """Tenant → rate of each machine of one type, or None when the type cannot serve every tenant."""
    if not all(kind.serves(t) for t in problem.tenants):
        return None
    machines: list[dict[str, float]] = []
    pieces: list[Tenant] = []
    for tenant in problem.tenants:
        best = kind.capacity.best(tenant.model)
        full = int(tenant.rate_rps // best)
        rest = tenant.rate_rps - full * best
        if rest <= 1e-9 * best:
            rest = 0.0
        machines += [{tenant.name: best}] * full
        if rest > 0:
            pieces.append(Tenant(tenant.name, tenant.model, rest, tenant.sla))
    pieces.sort(key=lambda t: -t.rate_rps / kind.capacity.lam(t.model))
    boxes: list[_Open] = []
    for piece in pieces:
        work = piece.rate_rps / kind.capacity.lam(piece.model)
        if work > 1.0:  # only alone, at its best setting
            machines.append({piece.name: piece.rate_rps})
            continue
        box = next((b for b in boxes if b.fits(kind, piece.model, piece.rate_rps, work)), None)
        if box is None:
            box = _Open()
            boxes.append(box)
        box.place(kind, piece, work)
    return machines + [b.tenants for b in boxes]


def solve(problem: Problem) -> Plan:
    """The cheapest single-type first-fit-decreasing plan, each machine then moved to a cheaper type
    where it still fits."""
    problem.check()
    # The types whose work costs least (the LP bound's measure) are packed; the cheapest packing is kept.
    able = [k for k in problem.types if all(k.serves(t) for t in problem.tenants)]
    able.sort(key=lambda k: sum(k.usd_per_h * t.rate_rps / k.capacity.best(t.model) for t in problem.tenants))
    plans = [(kind, found) for kind in able[:TRIED] if (found := _on_type(problem, kind)) is not None]
    if not plans:  # no one type serves every tenant: each tenant's own cheapest type
        return _mixed(problem)
    kind, found = min(plans, key=lambda kf: kf[0].usd_per_h * len(kf[1]))
    machines = [_cheapest(problem, machine(kind, tenants, problem)) for tenants in found]
    return Plan("greedy", tuple(machines), lower_bound(problem))


def _cheapest(problem: Problem, planned: PlannedMachine) -> PlannedMachine:
    for kind in sorted(problem.types, key=lambda k: k.usd_per_h):
        if kind.usd_per_h >= planned.usd_per_h:
            break
        tenants = [problem.by_name[n] for n in planned.tenants]
        if all(kind.serves(t) for t in tenants):
            moved = machine(kind, planned.tenants, problem)
            memory = sum(kind.capacity.memory(m) for m in moved.models)
            if moved.predicted_load <= 1.0 + 1e-9 and memory <= kind.memory_bytes:
                return moved
    return planned


def _mixed(problem: Problem) -> Plan:
    """Tenants grouped by the cheapest type that serves each; each group packed on its type."""
    groups: dict[str, list[Tenant]] = {}
    for tenant in problem.tenants:
        kinds = [k for k in problem.types if k.serves(tenant)]
        best = min(kinds, key=lambda k: k.usd_per_h / k.capacity.best(tenant.model))
        groups.setdefault(best.id, []).append(tenant)
    machines: list[PlannedMachine] = []
    for type_id, tenants in groups.items():
        kind = problem.type(type_id)
        found = _on_type(Problem(tuple(tenants), (kind,)), kind) or []
        machines += [_cheapest(problem, machine(kind, t, problem)) for t in found]
    return Plan("greedy", tuple(machines), lower_bound(problem))
