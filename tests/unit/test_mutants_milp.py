"""The MILP on its own (not behind the greedy, which finds these optima too and would hide it) at its
edges, each value worked by hand: what the mutation check (benchmarks/mutants.py, docs/mutants.md) found
no other unit test pinned. The reference each call gets is the dedicated plan, dearer than the optimum."""

import pytest

from perseus.planner import milp
from perseus.planner.problem import MachineType, Plan, Problem, Tenant, dedicated
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


def _alone(tenants: dict[str, tuple[str, float]], *kinds: MachineType) -> tuple[Plan, Plan]:
    wanted = Problem(tuple(Tenant(n, m, r, SLA) for n, (m, r) in tenants.items()), kinds)
    reference = dedicated(wanted)
    return reference, milp.solve(wanted, reference)


def test_an_interfering_pair_is_never_put_together_past_its_capacity() -> None:
    # x, y, z: λ 100 each; x+y interfere (κ 0.6: together they would need 0.5 + 0.5 + 0.6 = 1.6), x+z and
    # y+z do not. Without κ, x+y (1.0) and z alone would be the 2-machine plan; with it, z is split: x 50 +
    # z 50 (1.0) and y 50 + z 10 (0.6). $1/h against 3 dedicated machines' $1.5/h; no machine over 1.
    kind = machine_type(
        machine_profile(
            "A", dict.fromkeys("xyz", 100.0), {("x", "y"): 0.6, ("x", "z"): 0.0, ("y", "z"): 0.0}
        ),
        0.5,
    )
    reference, found = _alone({"tx": ("x", 50.0), "ty": ("y", 50.0), "tz": ("z", 60.0)}, kind)
    assert (reference.usd_per_h, found.method, found.usd_per_h) == (1.5, "milp", 1.0)
    assert sorted(sorted(m.tenants) for m in found.machines) == [["tx", "tz"], ["ty", "tz"]]
    assert sorted(m.predicted_load for m in found.machines) == pytest.approx([0.6, 1.0])
    assert _served(found) == pytest.approx({"tx": 50.0, "ty": 50.0, "tz": 60.0})
    # The plan's own fields: the LP bound (each tenant's work at $0.5: 160 / 100 × 0.5), no notes.
    assert (found.lower_bound_usd_per_h, found.notes) == (pytest.approx(0.8), ())


def test_a_pairs_gain_lets_it_share_past_one_machine_by_no_more_than_its_slope() -> None:
    # x + y gain (κ −0.5: together they carry 1.5 machines' work); the gain is min(0.5, slope × the lesser
    # work), slope = 0.5 / 0.75. 70 + 70: gain min(0.5, 0.467) = 0.467, load 1.4 − 0.467 = 0.933: one
    # machine ($0.5/h) against two. 80 + 65: gain 0.433, load 1.45 − 0.433 = 1.017 > 1: no cheaper plan.
    kind = machine_type(machine_profile("G", {"x": 100.0, "y": 100.0}, {("x", "y"): -0.5}), 0.5)
    reference, found = _alone({"tx": ("x", 70.0), "ty": ("y", 70.0)}, kind)
    assert (reference.usd_per_h, found.method, found.usd_per_h) == (1.0, "milp", 0.5)
    assert found.machines[0].predicted_load == pytest.approx(1.4 - 0.7 / 1.5)
    # The bound divides the work by the largest gain any pair showed, 1.5: 0.5 × 1.4 / 1.5.
    assert found.lower_bound_usd_per_h == pytest.approx(0.7 / 1.5)
    _, kept = _alone({"tx": ("x", 80.0), "ty": ("y", 65.0)}, kind)
    assert (kept.method, kept.usd_per_h) == ("dedicated", 1.0)


def test_a_type_that_serves_no_tenant_does_not_end_the_program() -> None:
    nothing = machine_type(machine_profile("N", {"q": 100.0}), 0.1)  # profiles a model no tenant wants
    _, found = _alone({"tx": ("x", 50.0), "ty": ("y", 50.0)}, nothing, XY)
    assert (found.method, found.usd_per_h, [m.type for m in found.machines]) == ("milp", 0.5, ["A"])


def test_a_machine_used_below_half_is_a_whole_machine() -> None:
    # x 20 + y 20 req/s: one machine at load 0.4 ($0.5/h) against two dedicated ($1/h). A machine is
    # bought whole (its column integral): a fractional one at 0.4 would cost $0.2 and be dropped.
    reference, found = _alone({"tx": ("x", 20.0), "ty": ("y", 20.0)}, XY)
    assert (reference.usd_per_h, found.method, found.usd_per_h) == (1.0, "milp", 0.5)
    assert found.solver["objective_usd_per_h"] == pytest.approx(0.5)
    assert _served(found) == pytest.approx({"tx": 20.0, "ty": 20.0})
