"""The exact planner: a mixed-integer program solved by HiGHS (scipy.optimize.milp) within a time limit.

Machines are slots of each type (at most as many as tenants the type can serve, and no more than a
reference plan's cost buys). A tenant's rate is split over shared slots and its model's machines of its
own (the model's tenants pooled, at its best setting), never into a part below its `min_part_rps` (semi-
continuous columns); a slot's load is built from the capacity model's own terms (`Capacity.work`,
`Capacity.terms` through model-presence binaries), and the memory of the models on it. The model's
interference, a mean of its pairs' κ weighted by products of works, is not linear: a slot is charged its
worst pair's κ instead, never less than the model's, so every slot the MILP fills fits the model (and a
machine of 3+ models is planned cautiously; the greedy, which reads the model itself, is kept when it
finds a cheaper plan). Minimises $/h."""

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from perseus.planner.problem import (
    MachineType,
    Plan,
    PlannedMachine,
    Problem,
    Tenant,
    even,
    least,
    lower_bound,
    machine,
    own_machines,
)

EPS = 1e-6
STATUS = {0: "optimal", 1: "time limit reached", 2: "infeasible", 3: "unbounded"}


@dataclass
class _Program:
    """The columns and rows being built: cost, bounds and integrality per column; rows as triplets."""

    cost: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    integral: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    row_low: list[float] = field(default_factory=list)
    row_high: list[float] = field(default_factory=list)

    def column(self, cost: float, high: float, integral: bool, low: float = 0.0) -> int:
        """A column in [0, high]; integral, or with `low` > 0 semi-continuous: 0 or in [low, high]."""
        self.cost.append(cost)
        self.low.append(low)
        self.high.append(high)
        self.integral.append(1 if integral else 2 if low > 0 else 0)
        return len(self.cost) - 1

    def share(self, tenant: Tenant) -> int:
        """The fraction of a tenant's rate on one machine (or on its model's machines of its own): 0, or
        at least its least part."""
        return self.column(0.0, 1.0, False, min(1.0, tenant.min_part_rps / tenant.rate_rps))

    def row(self, terms: list[tuple[int, float]], low: float, high: float) -> None:
        index = len(self.row_low)
        for col, val in terms:
            self.rows.append(index)
            self.cols.append(col)
            self.vals.append(val)
        self.row_low.append(low)
        self.row_high.append(high)


def solve(problem: Problem, reference: Plan, time_limit_s: float = 10.0, gap: float = 0.01) -> Plan:
    """The cheapest plan HiGHS finds within the time limit (to `gap` of its own bound); `reference` (a
    feasible plan, e.g. the greedy's) bounds the machines considered and is returned if nothing cheaper
    is found."""
    started = time.perf_counter()
    p = _Program()
    tenants = problem.tenants
    cover: list[list[tuple[int, float]]] = [[] for _ in tenants]
    slots: list[tuple[MachineType, int, dict[int, int]]] = []  # type, y column, tenant → q column
    own: list[tuple[MachineType, str, int, dict[int, int]]] = []  # type, model, n column, tenant → d column
    for kind in problem.types:
        served = [i for i, t in enumerate(tenants) if kind.serves(t)]
        if not served:
            continue
        for model in problem.by_model:
            mine = [i for i in served if tenants[i].model == model]
            if not mine:
                continue
            pooled = sum(tenants[i].rate_rps for i in mine)
            n = p.column(kind.usd_per_h, own_machines(pooled, model, kind), True)
            d = {i: p.share(tenants[i]) for i in mine}
            for i, col in d.items():
                cover[i].append((col, 1.0))
            terms = [(col, tenants[i].rate_rps) for i, col in d.items()]
            p.row([*terms, (n, -kind.capacity.best(model))], -np.inf, 0.0)
            own.append((kind, model, n, d))
        count = min(len(served), int(reference.usd_per_h / kind.usd_per_h + EPS))
        previous: tuple[int, dict[int, int]] | None = None
        for _ in range(count):
            y, q = _slot(p, kind, tenants, served, cover)
            if previous is not None:  # identical slots: used in order, and the fuller first
                p.row([(y, 1.0), (previous[0], -1.0)], -np.inf, 0.0)
                work = [(q[i], _work(tenants[i], kind)) for i in served]
                work += [(previous[1][i], -_work(tenants[i], kind)) for i in served]
                p.row(work, -np.inf, 0.0)
            previous = (y, q)
            slots.append((kind, y, q))
    for terms in cover:
        p.row(terms, 1.0, 1.0)
    matrix = coo_matrix((p.vals, (p.rows, p.cols)), shape=(len(p.row_low), len(p.cost))).tocsr()
    result = milp(
        np.array(p.cost),
        constraints=LinearConstraint(matrix, np.array(p.row_low), np.array(p.row_high)),
        integrality=np.array(p.integral),
        bounds=Bounds(np.array(p.low), np.array(p.high)),
        options={"time_limit": time_limit_s, "mip_rel_gap": gap},
    )
    solver = {
        "status": STATUS.get(result.status, "failed"),
        "objective_usd_per_h": None if result.x is None else float(result.fun),
        "message": result.message,
        "seconds": round(time.perf_counter() - started, 3),
        "mip_gap": getattr(result, "mip_gap", None),
        "columns": len(p.cost),
        "rows": len(p.row_low),
    }
    if result.x is None or result.fun >= reference.usd_per_h - EPS:
        note = f"the MILP ({solver['status']}) found no plan cheaper than the greedy's, which is kept"
        return Plan(reference.method, reference.machines, reference.lower_bound_usd_per_h, (note,), solver)
    x = result.x
    machines: list[PlannedMachine] = []
    for kind, y, q in slots:
        if x[y] > 0.5:
            rates = {tenants[i].name: x[col] * tenants[i].rate_rps for i, col in q.items() if x[col] > EPS}
            if rates:
                machines.append(machine(kind, rates, problem))
    for kind, model, n, d in own:
        count = round(x[n])
        parts = {tenants[i].name: x[col] * tenants[i].rate_rps for i, col in d.items() if x[col] > EPS}
        if count and parts:
            for rates in even(parts, count, kind.capacity.best(model), least(problem, parts)):
                machines.append(machine(kind, rates, problem))
    return Plan("milp", tuple(machines), lower_bound(problem), (), solver)


def _work(tenant: Tenant, kind: MachineType) -> float:
    return kind.capacity.work(tenant.model, tenant.rate_rps)


def _slot(
    p: _Program,
    kind: MachineType,
    tenants: tuple,  # type: ignore[type-arg]
    served: list[int],
    cover: list[list[tuple[int, float]]],
) -> tuple[int, dict[int, int]]:
    """One machine slot of this type: its columns and rows; returns its y column and q columns."""
    cap = kind.capacity
    y = p.column(kind.usd_per_h, 1.0, True)
    models = sorted({tenants[i].model for i in served})
    w = {m: p.column(0.0, 1.0, True) for m in models}
    for col in w.values():
        p.row([(col, 1.0), (y, -1.0)], -np.inf, 0.0)
    load: list[tuple[int, float]] = [(y, -1.0)]
    q: dict[int, int] = {}
    work: dict[str, list[tuple[int, float]]] = {m: [] for m in models}  # Σ r/λ of each model, as terms
    for i in served:
        col = p.share(tenants[i])
        q[i] = col
        cover[i].append((col, 1.0))
        model = tenants[i].model
        p.row([(col, 1.0), (w[model], -1.0)], -np.inf, 0.0)
        term = (col, _work(tenants[i], kind))
        load.append(term)
        work[model].append(term)
    chosen: list[tuple[int, float]] = []
    terms = cap.terms(models)
    worst = max([0.0, *(pair.penalty for pair in terms)])
    if worst > EPS:  # the worst interfering pair present: a cautious bound of the model's weighted mean
        penalty = p.column(0.0, worst, False)
        for pair in terms:
            if pair.penalty > EPS:  # both present → penalty ≥ κ
                row = [(penalty, 1.0), (w[pair.a], -pair.penalty), (w[pair.b], -pair.penalty)]
                p.row(row, -pair.penalty, np.inf)
        load.append((penalty, 1.0))
    for pair in terms:
        if pair.kappa < -EPS:  # a gain: one pair's at most (s), below −κ and slope × each work
            s = p.column(0.0, 1.0, True)
            gain = p.column(0.0, -pair.kappa, False)
            p.row([(gain, 1.0), (s, pair.kappa)], -np.inf, 0.0)
            for m in (pair.a, pair.b):
                p.row([(gain, 1.0), *((c, -pair.slope * v) for c, v in work[m])], -np.inf, 0.0)
            load.append((gain, -1.0))
            chosen.append((s, 1.0))
    p.row(load, -np.inf, 0.0)
    if chosen:
        p.row([*chosen, (y, -1.0)], -np.inf, 0.0)
    p.row([*((w[m], cap.memory(m)) for m in models), (y, -kind.memory_bytes)], -np.inf, 0.0)
    return y, q
