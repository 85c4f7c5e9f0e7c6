"""The fast planner, for fleets too large for the MILP: first-fit decreasing. Per machine type, each
model's tenants (pooled) first fill machines of their own at its best setting, and what is left of them
becomes one piece; pieces go, largest first, onto the first machine of that type where the capacity
model (`capacity.MachineLoad`) and memory still allow them. The cheapest type's plan is kept, then each
machine moves to the cheapest type that still holds it."""

import math
from dataclasses import dataclass, field

from perseus.planner.capacity import MachineLoad
from perseus.planner.problem import (
    MachineType,
    Plan,
    PlannedMachine,
    Problem,
    Tenant,
    cut,
    even,
    lower_bound,
    machine,
)

TRIED = 3  # machine types packed, cheapest work first


@dataclass
class _Piece:
    model: str
    tenants: dict[str, float]  # tenant → req/s

    @property
    def rate(self) -> float:
        return sum(self.tenants.values())


@dataclass
class _Open:
    """A machine being filled: its load (the capacity model's own incremental state), tenants, memory."""

    load: MachineLoad
    tenants: dict[str, float] = field(default_factory=dict)
    memory: float = 0.0

    def fits(self, kind: MachineType, piece: _Piece) -> bool:
        new = piece.model not in self.load.rates
        if new and self.memory + kind.capacity.memory(piece.model) > kind.memory_bytes:
            return False
        return self.load.load_with(piece.model, piece.rate) <= 1.0 + 1e-9

    def place(self, kind: MachineType, piece: _Piece) -> None:
        if piece.model not in self.load.rates:
            self.memory += kind.capacity.memory(piece.model)
        self.load.add(piece.model, piece.rate)
        for name, rate in piece.tenants.items():
            self.tenants[name] = self.tenants.get(name, 0.0) + rate


def _pooled(
    kind: MachineType, model: str, group: tuple[Tenant, ...]
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """A model's tenants: machines of its own filled to its best λ, and what is left (under one machine) to
    share. Where that would cut a tenant finer than its least part, the model takes machines of its own
    for all of it, evenly filled (and nothing is left to share)."""
    best = kind.capacity.best(model)
    parts = {t.name: t.rate_rps for t in group}
    low = {t.name: t.min_part_rps for t in group}
    total = sum(parts.values())
    n = math.floor(total / best + 1e-9)
    machines, rest = cut(parts, n, best, best, low)
    if all(machines) and sum(rest.values()) <= best * (1.0 + 1e-9):
        return machines, rest
    return even(parts, math.ceil(total / best - 1e-9), best, low), {}


def _on_type(problem: Problem, kind: MachineType) -> list[dict[str, float]] | None:
    """Tenant → rate of each machine of one type, or None when the type cannot serve every tenant."""
    if not all(kind.serves(t) for t in problem.tenants):
        return None
    machines: list[dict[str, float]] = []
    pieces: list[_Piece] = []
    for model, group in problem.by_model.items():
        full, rest = _pooled(kind, model, group)
        machines += full
        if rest:
            pieces.append(_Piece(model, rest))
    pieces.sort(key=lambda p: -kind.capacity.work(p.model, p.rate))
    boxes: list[_Open] = []
    for piece in pieces:
        if kind.capacity.work(piece.model, piece.rate) > 1.0:  # only alone, at its best setting
            machines.append(dict(piece.tenants))
            continue
        box = next((b for b in boxes if b.fits(kind, piece)), None)
        if box is None:
            box = _Open(MachineLoad(kind.capacity))
            boxes.append(box)
        box.place(kind, piece)
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
