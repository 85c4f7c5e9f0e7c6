"""The planner at its edges, each value worked by hand: what mutation testing (benchmarks/mutants.py,
docs/mutants.md) found no other unit test pinned."""

import itertools
from dataclasses import replace

import pytest

from perseus.core.errors import ConfigError
from perseus.core.interval import Estimate
from perseus.planner import greedy
from perseus.planner.capacity import (
    Check,
    fit,
    leave_one_pair_out,
    median_error,
    prediction_checks,
    repeat_checks,
)
from perseus.planner.problem import MachineType, Problem, Tenant, dedicated
from perseus.planner.profile import Colocation, MachineProfile, ModelProfile, best_gain, merged
from perseus.planner.solve import answer
from tests.unit.planner_cases import GIB, machine_profile, machine_type, problem


def test_tenants_no_one_type_serves_go_each_to_its_cheapest_work() -> None:
    # A profiles x and y, B profiles y and z: no type serves all three. y costs $1/h / 100 req/s on A
    # against $2/h / 50 req/s on B, so y joins x on A (0.5 + 0.2 of one machine); z goes to B.
    b = machine_type(machine_profile("B", {"y": 50.0, "z": 50.0}), 2.0)
    a = machine_type(machine_profile("A", {"x": 60.0, "y": 100.0}, {("x", "y"): 0.0}), 1.0)
    wanted = problem({"tx": ("x", 30.0), "ty": ("y", 20.0), "tz": ("z", 10.0)}, b, a)
    plan = greedy.solve(wanted)
    assert plan.method == "greedy"
    assert sorted((m.type, m.tenants) for m in plan.machines) == [
        ("A", {"tx": 30.0, "ty": 20.0}),
        ("B", {"tz": 10.0}),
    ]
    assert plan.usd_per_h == 3.0
    # The bound: each tenant's work on its cheapest type: 1 × 30/60 + 1 × 20/100 + 2 × 10/50.
    assert plan.lower_bound_usd_per_h == pytest.approx(0.5 + 0.2 + 0.4)


def _point(models: tuple[str, ...], e: float) -> Colocation:
    return Colocation(models, dict.fromkeys(models, 1.0), Estimate.exact(e))


def _profile(*points: Colocation) -> MachineProfile:
    base = machine_profile("m", {"a": 100.0, "b": 100.0, "c": 100.0})
    return MachineProfile("m", base.models, points, "by hand")


def test_a_pair_that_met_no_sla_does_not_stop_the_other_pairs_checks() -> None:
    checks = leave_one_pair_out(_profile(_point(("a", "b"), 0.0), _point(("a", "c"), 0.8)))
    # (a, b) has κ = 1: no relative error, skipped; (a, c) is still checked against its 0.8.
    assert [(c.models, c.measured) for c in checks] == [(("a", "c"), pytest.approx(0.8))]


def test_sets_and_repeats_are_checked_under_their_models() -> None:
    profile = _profile(
        _point(("a", "b"), 0.8),
        _point(("a", "b"), 0.6),
        _point(("a", "c"), 0.8),
        _point(("b", "c"), 0.8),
        _point(("c", "a", "b"), 0.5),
    )
    checks = prediction_checks([profile])
    # κ: a+b the mean of 0.2 and 0.4 = 0.3, the others 0.2; three models at equal work w (every pair
    # weighing w·w): 3w + (0.3 + 0.2 + 0.2) / 3 ≤ 1, so they carry 1 − 0.7/3 together, against 0.5.
    assert [(c.models, c.measured) for c in checks.sets] == [(("a", "b", "c"), 0.5)]
    assert checks.sets[0].predicted == pytest.approx(1 - 0.7 / 3)
    assert [(c.models, c.measured, c.predicted) for c in repeat_checks(profile.colocations)] == [
        (("a", "b"), 0.8, 0.6),
        (("a", "b"), 0.6, 0.8),
    ]
    assert median_error([]) is None
    assert median_error([Check(("a", "b"), 0.5, 0.4), Check(("a", "b"), 0.5, 0.6)]) == pytest.approx(0.2)


def test_capacity_predicted_beyond_one_machine_by_a_gain() -> None:
    # κ = −0.5 between a and b (they share at 1.5 machines' work): at equal work w each, the gain is
    # min(0.5, slope × w) with slope 0.5 / 0.75; 2w − gain ≤ 1 holds up to 2w = 1.5.
    capacity = fit(_profile(_point(("a", "b"), 1.5)))
    assert capacity.predicted_capacity(["a", "b"]) == pytest.approx(1.5)


def _model(rate: float, best: float, sla: str = "p95=100ms", memory_gib: float = 0.5) -> ModelProfile:
    return ModelProfile(
        "a", Estimate.exact(rate), Estimate.exact(best), {"instances": 2}, memory_gib * GIB, sla
    )


def test_merging_profiles_keeps_the_range_the_largest_memory_and_every_note() -> None:
    first = MachineProfile(
        "m", {"a": _model(90.0, 90.0, memory_gib=1.0)}, unmet={"b": "p95=1ms"}, notes=("n1",)
    )
    second = MachineProfile("m", {"a": _model(110.0, 110.0)}, unmet={"a": "p95=1ms"}, notes=("n2",))
    found = merged([first, second])
    lam = found.models["a"].shared_rps
    assert (lam.value, lam.low, lam.high, lam.searches, lam.min_max) == (100.0, 90.0, 110.0, 2, True)
    assert found.models["a"].memory_bytes == 1.0 * GIB
    assert found.models["a"].gains == (({"instances": 2}, 1.0),)
    assert found.unmet == {"b": "p95=1ms"}  # a is measured by one run: not unmet
    assert found.notes == ("n1", "n2")


def _run(best: float, instances: int) -> ModelProfile:
    """One run's profile of model a: λ 100 shared, `best` at `instances` instances."""
    return ModelProfile(
        "a", Estimate.exact(100.0), Estimate.exact(best), {"instances": instances}, GIB, "p95=100ms"
    )


def test_a_gain_below_one_falls_back_to_the_last_runs_setting() -> None:
    # Gains 0.8, 0.85, 0.9 over three settings: none beats the shared setting, so the last run's at 1.
    assert best_gain([_run(80.0, 4), _run(85.0, 5), _run(90.0, 3)]) == ({"instances": 3}, 1.0)
    # A gain of exactly 1 keeps its own setting.
    assert best_gain([_run(100.0, 3), _run(50.0, 6)]) == ({"instances": 3}, 1.0)


def test_answer_plans_every_plan_with_the_method_asked() -> None:
    kind = machine_type(machine_profile("A", {"x": 60.0, "y": 60.0}, {("x", "y"): 0.1}), 1.0)
    wanted = problem({"tx": ("x", 20.0), "ty": ("y", 20.0)}, kind)
    found = answer(wanted, method="greedy")
    assert found.problem is wanted
    assert (found.plan.method, found.blind.method) == ("greedy", "greedy")
    assert found.per_tenant.method == "dedicated per tenant"
    # The bound: $1/h × (20 + 20) / 60 machines' work (no gain measured): $0.667/h.
    assert found.per_tenant.lower_bound_usd_per_h == pytest.approx(40.0 / 60.0)


def test_a_model_no_type_can_serve_names_the_largest_type_tried() -> None:
    small = replace(machine_type(machine_profile("small", {"x": 10.0}), 1.0, memory_gib=4.0), id="small")
    large = replace(machine_type(machine_profile("large", {"x": 10.0}), 2.0, memory_gib=16.0), id="large")
    never = [
        replace(k, capacity=replace(k.capacity, profile=replace(k.capacity.profile, unmet={"y": "p95=1ms"})))
        for k in (large, small)
    ]
    with pytest.raises(ConfigError, match=r"the largest: large\)"):
        problem({"ty": ("y", 1.0)}, never[1], never[0]).check()
    with pytest.raises(ConfigError, match=r"\(profiled: x; a tenant names"):
        problem({"tz": ("z", 1.0)}, small).check()


def test_a_model_no_one_type_serves_whole_is_dedicated_tenant_by_tenant() -> None:
    # x's tenants want a p99 ≤ 100 ms and a p95 ≤ 50 ms: A measured x under the first only, B under the
    # second only, so each tenant gets machines of its own on the type that serves it: 1 A + 1 B.
    def kind(name: str, sla: str, usd: float) -> MachineType:
        base = machine_profile(name, {"x": 100.0})
        models = {"x": replace(base.models["x"], sla=sla)}
        return machine_type(replace(base, models=models), usd)

    a, b = kind("A", "p99=100ms", 1.0), kind("B", "p95=50ms", 2.0)
    wanted = Problem((Tenant("t1", "x", 50.0, "p99=100ms"), Tenant("t2", "x", 60.0, "p95=50ms")), (a, b))
    plan = dedicated(wanted)
    assert sorted((m.type, m.tenants) for m in plan.machines) == [("A", {"t1": 50.0}), ("B", {"t2": 60.0})]
    assert plan.usd_per_h == 3.0


def test_dedicated_fills_big_machines_and_puts_the_rest_on_a_small_one() -> None:
    # x: λ 100 on B ($2/h), 30 on S ($0.7/h); 130 req/s. Options: 5 S = $3.5; 4 S + 1 S = $3.5;
    # 4 S + 1 B = $4.8; 2 B = $4; 1 B full (100) + 1 S for the rest (30 ≤ its 30) = $2.7: the cheapest.
    big = machine_type(machine_profile("B", {"x": 100.0}), 2.0)
    small = machine_type(machine_profile("S", {"x": 30.0}), 0.7)
    plan = dedicated(problem({"t1": ("x", 80.0), "t2": ("x", 50.0)}, small, big))
    assert plan.usd_per_h == pytest.approx(2.7)
    by_type = {m.type: m.tenants for m in plan.machines}
    assert sorted(by_type) == ["B", "S"]
    # Each machine a fixed part of every tenant: B 100/130 of each, S 30/130.
    assert by_type["B"] == pytest.approx({"t1": 80.0 * 100 / 130, "t2": 50.0 * 100 / 130})
    assert by_type["S"] == pytest.approx({"t1": 80.0 * 30 / 130, "t2": 50.0 * 30 / 130})


def test_first_fit_decreasing_packs_the_largest_pieces_first() -> None:
    # Four models, no interference, works 0.7, 0.7, 0.3, 0.3 of one machine: largest first packs
    # 0.7 + 0.3 twice (2 machines); smallest first would need 3.
    lam = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 100.0}
    kind = machine_type(machine_profile("A", lam, dict.fromkeys(itertools.combinations("abcd", 2), 0.0)), 1.0)
    wanted = problem({"ta": ("a", 70.0), "tb": ("b", 70.0), "tc": ("c", 30.0), "td": ("d", 30.0)}, kind)
    assert len(greedy.solve(wanted).machines) == 2


def test_a_machines_memory_holds_exactly_what_fits() -> None:
    # 0.5 GiB a model. 1 GiB holds two models exactly; 1.2 GiB still holds two, not three.
    lam = {"a": 100.0, "b": 100.0, "c": 100.0}
    rates = {"ta": ("a", 20.0), "tb": ("b", 20.0)}
    exact = machine_type(machine_profile("A", lam, {("a", "b"): 0.0}), 1.0, memory_gib=1.0)
    assert len(greedy.solve(problem(rates, exact)).machines) == 1
    roomy = machine_type(machine_profile("A", lam, {("a", "b"): 0.0}), 1.0, memory_gib=1.2)
    three = problem({**rates, "tc": ("c", 20.0)}, roomy)
    assert len(greedy.solve(three).machines) == 2


def test_a_machine_of_an_unmeasured_pair_is_flagged_unless_planned_blind() -> None:
    measured = fit(machine_profile("A", dict.fromkeys("abc", 100.0), {("a", "b"): 0.1}))
    assert measured.flags(["a", "b"]) == []
    assert measured.flags(["b", "c", "a", "c"]) == ["pair not measured, κ predicted: a+c, b+c"]
    assert measured.flags(["c"]) == []
    assert replace(measured, blind=True).flags(["a", "c"]) == []
