"""The fast planner, for fleets too large for the MILP: first-fit decreasing. Per machine type, each
tenant first fills machines of its own (at its best setting) and its remainder becomes a piece; pieces
go, largest first, onto the first machine of that type where the capacity model and memory still allow
them. The cheapest type's plan is kept, then each machine moves to the cheapest type that still holds it."""

from dataclasses import dataclass, field

from perseus.planner.problem import MachineType, Plan, PlannedMachine, Problem, Tenant, lower_bound, machine


@dataclass
class _Open:
    """A machine being filled: the rate of each model and tenant on it, its memory in use."""

    models: dict[str, float] = field(default_factory=dict)
    tenants: dict[str, float] = field(default_factory=dict)
    memory: float = 0.0


def _fits(kind: MachineType, box: _Open, tenant: Tenant) -> bool:
    cap = kind.capacity
    if tenant.model not in box.models and box.memory + cap.memory(tenant.model) > kind.memory_bytes:
        return False
    models = {**box.models, tenant.model: box.models.get(tenant.model, 0.0) + tenant.rate_rps}
    return cap.load(models) <= 1.0 + 1e-9


def _place(kind: MachineType, box: _Open, tenant: Tenant) -> None:
    if tenant.model not in box.models:
        box.memory += kind.capacity.memory(tenant.model)
    box.models[tenant.model] = box.models.get(tenant.model, 0.0) + tenant.rate_rps
    box.tenants[tenant.name] = box.tenants.get(tenant.name, 0.0) + tenant.rate_rps


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
            rest, full = 0.0, full
        machines += [{tenant.name: best}] * full
        if rest > 0:
            pieces.append(Tenant(tenant.name, tenant.model, rest, tenant.sla))
    pieces.sort(key=lambda t: -t.rate_rps / kind.capacity.lam(t.model))
    boxes: list[_Open] = []
    for piece in pieces:
        if piece.rate_rps > kind.capacity.lam(piece.model):  # only alone, at its best setting
            machines.append({piece.name: piece.rate_rps})
            continue
        box = next((b for b in boxes if _fits(kind, b, piece)), None)
        if box is None:
            box = _Open()
            boxes.append(box)
        _place(kind, box, piece)
    return machines + [b.tenants for b in boxes]


def solve(problem: Problem) -> Plan:
    """The cheapest single-type first-fit-decreasing plan, each machine then moved to a cheaper type
    where it still fits."""
    problem.check()
    plans = [(kind, found) for kind in problem.types if (found := _on_type(problem, kind)) is not None]
    if not plans:  # no one type serves every tenant: each tenant's own cheapest type
        return _mixed(problem)
    kind, found = min(plans, key=lambda kf: kf[0].usd_per_h * len(kf[1]))
    machines = [_cheapest(problem, machine(kind, tenants, problem)) for tenants in found]
    return Plan("greedy", tuple(machines), lower_bound(problem))


def _cheapest(problem: Problem, planned: PlannedMachine) -> PlannedMachine:
    by_name = {t.name: t for t in problem.tenants}
    for kind in sorted(problem.types, key=lambda k: k.usd_per_h):
        if kind.usd_per_h >= planned.usd_per_h:
            break
        tenants = [by_name[n] for n in planned.tenants]
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
