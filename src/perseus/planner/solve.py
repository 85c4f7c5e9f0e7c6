"""One entry to the planner: the greedy always, the MILP on top when the fleet is small enough (or asked
for), and the plans every plan is compared with (all-dedicated, interference-blind)."""

from dataclasses import dataclass, replace
from typing import Literal

from perseus.planner import greedy, milp
from perseus.planner.capacity import Capacity
from perseus.planner.problem import (
    MachineType,
    Plan,
    Problem,
    dedicated,
    dedicated_per_tenant,
    machine,
    too_small,
)

Method = Literal["auto", "milp", "greedy"]
MILP_TENANTS = 60  # auto: the MILP above this many tenants rarely closes its gap within a time limit


@dataclass(frozen=True)
class Answer:
    plan: Plan  # interference-aware: the one recommended
    dedicated: Plan  # the baseline: each model on its cheapest machines of its own, its tenants pooled
    blind: Plan  # planned as if co-located models never interfered (Σ r/λ ≤ 1), loads then predicted
    problem: Problem
    per_tenant: Plan  # a looser baseline, labelled so: each tenant on machines of its own

    @property
    def saving(self) -> float:
        """What the plan saves against one model per machine (its tenants pooled, best setting)."""
        return 1.0 - self.plan.usd_per_h / self.dedicated.usd_per_h

    @property
    def saving_per_tenant(self) -> float:
        return 1.0 - self.plan.usd_per_h / self.per_tenant.usd_per_h


def plan(problem: Problem, method: Method = "auto", time_limit_s: float = 10.0) -> Plan:
    found = greedy.solve(problem)
    if method == "milp" or (method == "auto" and len(problem.tenants) <= MILP_TENANTS):
        found = milp.solve(problem, found, time_limit_s)
    return _said(found, problem)


def _said(planned: Plan, problem: Problem) -> Plan:
    """The plan, with a note naming tenant parts too small for a validation to judge (flagged machines)."""
    small = sorted(
        {
            f"{name} ({m.tenants[name]:.3g} req/s)"
            for m in planned.machines
            for name in too_small(problem, m.tenants)
        }
    )
    if not small:
        return planned
    note = (
        f"parts too small to judge in a validation: {', '.join(small)}; a longer validate_s lowers the least "
        "part a machine may serve"
    )
    return replace(planned, notes=(*planned.notes, note))


def blind(problem: Problem) -> Problem:
    types = tuple(replace(t, capacity=_blind(t.capacity)) for t in problem.types)
    return Problem(problem.tenants, types)


def _blind(capacity: Capacity) -> Capacity:
    return replace(capacity, blind=True)


def reload(planned: Plan, problem: Problem) -> Plan:
    """A plan's machines with the loads `problem`'s capacity model predicts for them (a blind plan seen by
    the interference-aware model)."""
    machines = tuple(machine(problem.type(m.type), m.tenants, problem) for m in planned.machines)
    return replace(planned, machines=machines)


def answer(problem: Problem, method: Method = "auto", time_limit_s: float = 10.0) -> Answer:
    aware = plan(problem, method, time_limit_s)  # the greedy checks the problem first
    unaware = reload(plan(blind(problem), method, time_limit_s), problem)
    return Answer(aware, dedicated(problem), unaware, problem, dedicated_per_tenant(problem))


__all__ = ["Answer", "MachineType", "Method", "Plan", "Problem", "answer", "blind", "plan"]
