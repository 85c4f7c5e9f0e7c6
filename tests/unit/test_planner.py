"""The planner on cases small enough to solve by hand, and its promises on random fleets: every plan
serves every tenant's rate, respects each machine's predicted capacity and memory, and costs no less than
the LP bound; the MILP never costs more than the greedy."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.core.errors import ConfigError
from perseus.planner import greedy, milp
from perseus.planner.problem import Plan, Problem, Tenant, dedicated, lower_bound
from perseus.planner.solve import answer
from tests.unit.planner_cases import machine_profile, machine_type, problem

AB = {"a": 100.0, "b": 100.0}


def test_two_tenants_that_fit_share_one_machine() -> None:
    small = machine_type(machine_profile("small", AB, {("a", "b"): 0.0}), 1.0)
    found = answer(problem({"ta": ("a", 60), "tb": ("b", 30)}, small))
    assert found.plan.usd_per_h == pytest.approx(1.0)
    assert found.dedicated.usd_per_h == pytest.approx(2.0)
    assert found.saving == pytest.approx(0.5)
    assert found.plan.lower_bound_usd_per_h == pytest.approx(0.9)
    (only,) = found.plan.machines
    assert only.tenants == pytest.approx({"ta": 60, "tb": 30})
    assert only.predicted_load == pytest.approx(0.9)


def test_interference_keeps_a_pair_apart_that_the_blind_plan_puts_together() -> None:
    small = machine_type(machine_profile("small", AB, {("a", "b"): 0.2}), 1.0)
    found = answer(problem({"ta": ("a", 60), "tb": ("b", 30)}, small))
    assert found.plan.usd_per_h == pytest.approx(2.0)  # 0.6 + 0.3 + κ 0.2 = 1.1 > 1
    assert found.blind.usd_per_h == pytest.approx(1.0)
    (together,) = found.blind.machines
    assert together.predicted_load == pytest.approx(1.1)  # the blind plan, seen by the aware model


def test_a_measured_gain_lets_more_share_a_machine() -> None:
    small = machine_type(machine_profile("small", AB, {("a", "b"): -0.2}), 1.0)
    found = answer(problem({"ta": ("a", 70), "tb": ("b", 45)}, small))
    assert found.plan.usd_per_h == pytest.approx(1.0)  # 0.7 + 0.45 − 0.2 = 0.95
    assert found.blind.usd_per_h == pytest.approx(2.0)


def test_the_milp_charges_a_set_its_worst_pair_and_the_greedys_plan_of_the_set_is_kept() -> None:
    # a + b interfere (κ 0.35), c harmless beside both; works 0.3, 0.3, 0.2. The model: 0.8 + the pairs'
    # κ weighted by their works' products, 0.35 × 0.09 / 0.21 = 0.15: one machine (0.95). The MILP's
    # linear bound charges the worst pair's κ (0.8 + 0.35 = 1.15): it finds nothing cheaper than 2
    # machines, and the greedy's one machine is kept.
    kappa = {("a", "b"): 0.35, ("a", "c"): 0.0, ("b", "c"): 0.0}
    small = machine_type(machine_profile("small", dict.fromkeys("abc", 100.0), kappa), 1.0)
    fleet = problem({"ta": ("a", 30), "tb": ("b", 30), "tc": ("c", 20)}, small)
    found = answer(fleet, "milp")
    (only,) = found.plan.machines
    assert only.predicted_load == pytest.approx(0.95)
    assert found.plan.method == "greedy" and "no plan cheaper than the greedy's" in found.plan.notes[0]


def test_two_machine_types_mix_to_the_hand_computed_optimum() -> None:
    # small: 1 $/h, λ 100 each; big: 1.8 $/h, λ 200 each. 150 + 150 req/s: one big (200) + one small
    # (100) = 2.8 $/h beats three small (3.0) and two big (3.6). Alone, each tenant's cheapest is a big.
    small = machine_type(machine_profile("small", AB, {("a", "b"): 0.0}), 1.0)
    big = machine_type(machine_profile("big", {"a": 200.0, "b": 200.0}, {("a", "b"): 0.0}), 1.8)
    fleet = problem({"ta": ("a", 150), "tb": ("b", 150)}, small, big)
    found = answer(fleet, "milp")
    assert found.plan.usd_per_h == pytest.approx(2.8)
    assert sorted(m.type for m in found.plan.machines) == ["big", "small"]
    assert found.dedicated.usd_per_h == pytest.approx(3.6)
    assert greedy.solve(fleet).usd_per_h == pytest.approx(3.0)  # one type, first fit: three small
    assert lower_bound(fleet) == pytest.approx(2.7)  # 300 req/s at big's 0.009 $/h per req/s


def test_memory_keeps_models_apart() -> None:
    profile = machine_profile("small", AB, {("a", "b"): 0.0}, memory_gib={"a": 3, "b": 3})
    tight = machine_type(profile, 1.0, memory_gib=4)
    found = answer(problem({"ta": ("a", 10), "tb": ("b", 10)}, tight))
    assert found.plan.usd_per_h == pytest.approx(2.0)


def test_a_tenant_above_one_machine_is_split_over_machines_of_its_own_at_its_best_setting() -> None:
    profile = machine_profile("small", AB, {("a", "b"): 0.0}, best={"a": 125.0})
    small = machine_type(profile, 1.0)
    found = answer(problem({"ta": ("a", 300), "tb": ("b", 40)}, small))
    served = {}
    for m in found.plan.machines:
        for t, r in m.tenants.items():
            served[t] = served.get(t, 0) + r
    assert served == pytest.approx({"ta": 300, "tb": 40})
    # 300 = 2 × 125 alone + 50 (0.5 at λ 100) shared with tb's 0.4: three machines.
    assert found.plan.usd_per_h == pytest.approx(3.0)
    assert found.dedicated.usd_per_h == pytest.approx(4.0)  # ⌈300/125⌉ + 1


def test_bad_fleets_are_one_line() -> None:
    small = machine_type(machine_profile("small", AB), 1.0)
    with pytest.raises(ConfigError, match="no profile of model c"):
        answer(problem({"tc": ("c", 10)}, small))
    strict = Problem((Tenant("ta", "a", 10, "p95=20ms"),), (small,))
    with pytest.raises(ConfigError, match="stricter than a was profiled under"):
        answer(strict)
    never = replace(machine_profile("small", AB), unmet={"c": "p95=100ms"})
    with pytest.raises(ConfigError, match=r"c never met p95=100ms even alone .* \(the largest: small\)"):
        answer(problem({"tc": ("c", 10)}, machine_type(never, 1.0)))
    huge = machine_type(machine_profile("small", AB, memory_gib={"a": 9}), 1.0)
    with pytest.raises(ConfigError, match="memory"):
        answer(problem({"ta": ("a", 10)}, huge))


MODELS = ["a", "b", "c", "d"]


@st.composite
def fleets(draw: st.DrawFn) -> Problem:
    kappa = {
        (x, y): draw(st.floats(-0.15, 0.3))
        for i, x in enumerate(MODELS)
        for y in MODELS[i + 1 :]
        if draw(st.booleans())
    }
    types = []
    for index in range(draw(st.integers(1, 3))):
        scale = draw(st.floats(1.0, 4.0))
        lam = {m: scale * draw(st.floats(20, 200)) for m in MODELS}
        memory = {m: draw(st.floats(0.2, 2.0)) for m in MODELS}
        best = {m: lam[m] * draw(st.floats(1.0, 1.3)) for m in MODELS}  # alone at a better setting
        profile = machine_profile(f"t{index}", lam, kappa, best=best, memory_gib=memory)
        types.append(machine_type(profile, scale * draw(st.floats(0.8, 1.2)), memory_gib=2.0 * scale + 2))
    tenants = {
        f"t{i}": (draw(st.sampled_from(MODELS)), draw(st.floats(5, 400)))
        for i in range(draw(st.integers(1, 7)))
    }
    return problem(tenants, *types)


def _respected(plan: Plan, fleet: Problem) -> None:
    served: dict[str, float] = {}
    for m in plan.machines:
        kind = fleet.type(m.type)
        assert m.predicted_load <= 1.0 + 1e-6, m
        assert sum(kind.capacity.memory(model) for model in m.models) <= kind.memory_bytes + 1, m
        for tenant, rate in m.tenants.items():
            served[tenant] = served.get(tenant, 0.0) + rate
    assert served == pytest.approx({t.name: t.rate_rps for t in fleet.tenants}, rel=1e-5)
    assert plan.usd_per_h >= plan.lower_bound_usd_per_h - 1e-9


@settings(max_examples=30, deadline=None)
@given(fleets())
def test_every_plan_respects_capacity_and_memory_and_the_lp_bound(fleet: Problem) -> None:
    fast = greedy.solve(fleet)
    exact = milp.solve(fleet, fast, time_limit_s=2)
    alone = dedicated(fleet)
    for plan in (fast, exact, alone):
        _respected(plan, fleet)
    assert exact.usd_per_h <= fast.usd_per_h + 1e-9
    assert exact.usd_per_h <= alone.usd_per_h + 1e-9
