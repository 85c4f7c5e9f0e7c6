"""The greedy planner and the plan's entry at their edges, each value worked by hand: what the mutation
check (benchmarks/mutants.py, docs/mutants.md) found no other unit test pinned (a second pass)."""

from dataclasses import replace

import pytest

from perseus.planner import greedy
from perseus.planner.problem import Problem, Tenant, dedicated
from perseus.planner.solve import MILP_TENANTS, plan
from tests.unit.planner_cases import GIB, SLA, machine_profile, machine_type

X100 = machine_type(machine_profile("A", {"x": 100.0}), 1.0)  # x: λ 100 req/s, $1/h


def _problem(tenants: dict[str, tuple[float, float]], *types: object) -> Problem:
    """Tenants of model x by name: (req/s, least part in req/s)."""
    kinds = types or (X100,)
    return Problem(tuple(Tenant(n, "x", r, SLA, low) for n, (r, low) in tenants.items()), kinds)  # type: ignore[arg-type]


def _machines(found: object) -> list[dict[str, float]]:
    return [m.tenants for m in found.machines]  # type: ignore[attr-defined]


def test_a_rest_of_exactly_one_machine_is_shared_not_spread() -> None:
    # 2 machines of x's own (220 // 100): t1 (120, least 30) fills the first to 90 (a cut at 100 would
    # leave 20 < 30), the rest 30 on the second; t2 (100, least 100) cannot be cut into the second's 70:
    # it is the rest, exactly one machine's 100, which is shared (a machine of its own here), not a
    # reason to spread every tenant evenly over 3 (73.3 / 46.7 / 100).
    found = plan(_problem({"t1": (120.0, 30.0), "t2": (100.0, 100.0)}), method="greedy")
    assert _machines(found) == [{"t1": 90.0}, {"t1": 30.0}, {"t2": 100.0}]
    assert found.notes == ()


def test_a_rest_over_one_machine_spreads_every_tenant_evenly_and_says_which_parts_are_too_small() -> None:
    # 3 machines of x's own (380 // 100): t1 (230, least 30) as 100, 100, 30; t2 (150, least 150) does not
    # fit the third's 70 uncut: a rest of 150 > one machine. So all of x goes evenly over 4 machines
    # (ceil 3.8): 230 / 4 = 57.5 and 150 / 4 = 37.5 each, and t2's 37.5 < 150 is named as too small.
    found = plan(_problem({"t1": (230.0, 30.0), "t2": (150.0, 150.0)}), method="greedy")
    assert _machines(found) == [{"t1": 57.5, "t2": 37.5}] * 4
    assert found.notes == (
        "parts too small to judge in a validation: t2 (37.5 req/s); a longer validate_s lowers the least "
        "part a machine may serve",
    )


def test_a_tenant_that_cannot_be_cut_takes_exactly_its_machines() -> None:
    # 200 req/s, least part 200: no machine (λ 100) takes a part of it uncut, so it is spread over exactly
    # 200 / 100 = 2 machines (not 3), 100 each, and named as too small to judge.
    found = plan(_problem({"t": (200.0, 200.0)}), method="greedy")
    assert _machines(found) == [{"t": 100.0}, {"t": 100.0}]
    assert found.notes[0].startswith("parts too small to judge in a validation: t (100 req/s);")


def test_the_milp_runs_on_its_own_up_to_60_tenants() -> None:
    assert MILP_TENANTS == 60
    # 60 tenants of 1 req/s: the MILP runs (its solver's figures kept; it finds nothing cheaper than the
    # greedy's one machine); 61: the greedy alone, no solver.
    sixty = plan(_problem({f"t{i}": (1.0, 0.0) for i in range(60)}))
    assert sixty.solver["status"] == "optimal"
    assert len(sixty.machines) == 1
    sixty_one = plan(_problem({f"t{i}": (1.0, 0.0) for i in range(61)}))
    assert (sixty_one.method, dict(sixty_one.solver)) == ("greedy", {})
    assert (
        plan(_problem({f"t{i}": (1.0, 0.0) for i in range(61)}), method="milp").solver["status"] == "optimal"
    )


def test_a_machine_moves_only_to_a_strictly_cheaper_type() -> None:
    # B and A both $1/h; x's work costs least on B (λ 100 against 50), so the greedy packs B, and the
    # one machine (40 req/s) stays there: A costs no less, though it would carry 40 (0.8 of it).
    a = replace(machine_type(machine_profile("A", {"x": 50.0}), 1.0), id="A")
    b = replace(machine_type(machine_profile("B", {"x": 100.0}), 1.0), id="B")
    found = greedy.solve(_problem({"t": (40.0, 0.0)}, a, b))
    assert [(m.type, m.tenants) for m in found.machines] == [("B", {"t": 40.0})]


def test_a_machine_moves_to_a_cheaper_type_whose_memory_it_fills_exactly() -> None:
    # B: $1/h, λ 100 (x and y). S: $0.4/h, λ 20, memory exactly one model's 0.5 GiB. x's 100 fills a B;
    # on S alone it would take 5 + 1 = 6 × 0.4 = $2.4 > 2 B. The B holding y's 10 req/s then moves to S
    # (10 / 20 = half its work; 0.5 GiB ≤ 0.5 GiB): $1.4/h.
    big = machine_type(machine_profile("B", {"x": 100.0, "y": 100.0}, {("x", "y"): 0.0}), 1.0)
    small = machine_type(machine_profile("S", {"x": 20.0, "y": 20.0}), 0.4, memory_gib=0.5)
    wanted = Problem((Tenant("tx", "x", 100.0, SLA), Tenant("ty", "y", 10.0, SLA)), (big, small))
    found = greedy.solve(wanted)
    assert sorted((m.type, m.tenants) for m in found.machines) == [("B", {"tx": 100.0}), ("S", {"ty": 10.0})]
    assert found.usd_per_h == pytest.approx(1.4)
    assert small.memory_bytes == 0.5 * GIB


def test_the_baseline_is_named_dedicated() -> None:
    assert dedicated(_problem({"t": (40.0, 0.0)})).method == "dedicated"
