"""The MILP on its own (not behind the greedy, which finds these optima too and would hide it) at its
edges, each value worked by hand: what the mutation check (benchmarks/mutants.py, docs/mutants.md) found
no other unit test pinned. The reference each call gets is the dedicated plan, dearer than the optimum."""

import pytest

from perseus.planner import milp
from perseus.planner.problem import Plan, Problem, Tenant, dedicated
from tests.unit.planner_cases import SLA, machine_profile, machine_type

# x and y: λ 100 req/s each, measured together with no interference; $0.5/h a machine.
XY = machine_type(machine_profile("A", {"x": 100.0, "y": 100.0}, {("x", "y"): 0.0}), 0.5)


def _solve(*tenants: Tenant) -> tuple[Plan, Plan]:
    wanted = Problem(tenants, (XY,))
    reference = dedicated(wanted)
    return reference, milp.solve(wanted, reference)


def _served(found: Plan) -> dict[str, float]:
    total: dict[str, float] = {}
    for m in found.machines:
        for name, rate in m.tenants.items():
            total[name] = total.get(name, 0.0) + rate
    return total


def test_a_tenant_is_split_no_finer_than_its_least_part() -> None:
    # tx 150 (least 10), ty 50 (least 50: uncut). Dedicated: 2 machines of x + 1 of y = $1.5/h. The
    # MILP: x's own machine at 100 and one shared by tx's other 50 and ty: 2 machines, $1/h.
    reference, found = _solve(Tenant("tx", "x", 150.0, SLA, 10.0), Tenant("ty", "y", 50.0, SLA, 50.0))
    assert reference.usd_per_h == 1.5
    assert found.method == "milp"
    assert found.usd_per_h == 1.0
    assert sorted(sorted(m.tenants) for m in found.machines) == [["tx"], ["tx", "ty"]]
    assert _served(found) == pytest.approx({"tx": 150.0, "ty": 50.0})
    # tx's least part 60: its parts (≥ 60 each, 150 in all) and ty's uncut 50 need 3 machines, no
    # cheaper than the reference, which is kept.
    reference, found = _solve(Tenant("tx", "x", 150.0, SLA, 60.0), Tenant("ty", "y", 50.0, SLA, 50.0))
    assert (found.method, found.usd_per_h) == ("dedicated", 1.5)
    assert found.notes == ("the MILP (optimal) found no plan cheaper than the greedy's, which is kept",)


def test_several_shared_machines_of_one_type() -> None:
    # Four models at 50 req/s each (half a machine), no interference: 2 shared machines ($1/h) against
    # 4 dedicated ($2/h); the reference's $2 buys 4 slots.
    lam = dict.fromkeys("abcd", 100.0)
    pairs = {(a, b): 0.0 for a in "abcd" for b in "abcd" if a < b}
    kind = machine_type(machine_profile("A", lam, pairs), 0.5)
    wanted = Problem(tuple(Tenant(f"t{m}", m, 50.0, SLA) for m in "abcd"), (kind,))
    found = milp.solve(wanted, dedicated(wanted))
    assert dedicated(wanted).usd_per_h == 2.0
    assert (found.method, found.usd_per_h, len(found.machines)) == ("milp", 1.0, 2)
    assert all(len(m.tenants) == 2 and m.predicted_load == pytest.approx(1.0) for m in found.machines)
    assert _served(found) == pytest.approx(dict.fromkeys(("ta", "tb", "tc", "td"), 50.0))
