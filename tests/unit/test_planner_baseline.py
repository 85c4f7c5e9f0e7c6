"""The baseline every plan saving is against (one model per machine, its tenants pooled, at its best
setting), the one capacity model the greedy, the MILP and the checks share, and tenants never cut into
parts a validation could not judge."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.planner import greedy, milp, solve
from perseus.planner.capacity import MachineLoad
from perseus.planner.problem import (
    Plan,
    Problem,
    Tenant,
    cut,
    dedicated,
    dedicated_per_tenant,
    even,
)
from perseus.planner.solve import answer
from tests.unit.planner_cases import SLA, machine_profile, machine_type, problem
from tests.unit.test_planner import fleets

N2 = 0.097118  # gcp-n2-standard-2 $/h, as the shipped catalog prices it
# λ alone (best setting in brackets) measured on a 2-core host, as docs/results.md's 2026-11-30 profile says.
LAM = {
    "resnet50": 9.6,
    "mobilenet_v2": 126.0,
    "googlenet": 31.0,
    "squeezenet1_1": 126.0,
    "efficientnet_b0": 69.0,
    "densenet121": 12.0,
}
BEST = {"mobilenet_v2": 133.0, "squeezenet1_1": 133.0, "efficientnet_b0": 74.0}
FLEET = {  # plans/fleet-6cnn.yaml
    "photo-tagging": ("resnet50", 3),
    "moderation": ("resnet50", 2),
    "thumbnails": ("mobilenet_v2", 30),
    "ar-filters": ("mobilenet_v2", 20),
    "feed-ranking": ("mobilenet_v2", 180),
    "image-search": ("googlenet", 8),
    "legacy-api": ("googlenet", 5),
    "edge-cache": ("squeezenet1_1", 40),
    "iot-camera": ("squeezenet1_1", 20),
    "catalog": ("efficientnet_b0", 15),
    "ads": ("efficientnet_b0", 10),
    "radiology": ("densenet121", 3),
}


def test_the_shipped_fleet_against_one_model_per_machine_is_seven_machines() -> None:
    # Pooled: ResNet-50 5/9.6 → 1, MobileNetV2 230/133 → 2, GoogLeNet 13/31 → 1, SqueezeNet 60/133 → 1,
    # EfficientNet-B0 25/74 → 1, DenseNet-121 3/12 → 1: 7. Per tenant: 2 + (2 + 1 + 1) + 2 + 2 + 2 + 1 = 13.
    n2 = machine_type(machine_profile("n2", LAM, best=BEST), N2)
    fleet = problem(FLEET, n2)
    pooled, apart = dedicated(fleet), dedicated_per_tenant(fleet)
    assert len(pooled.machines) == 7
    assert pooled.usd_per_h == pytest.approx(7 * N2)
    assert len(apart.machines) == 13
    assert all(m.dedicated and m.predicted_load <= 1 + 1e-9 for m in pooled.machines)
    found = answer(fleet)
    assert found.dedicated.usd_per_h == pytest.approx(7 * N2)
    assert found.per_tenant.usd_per_h == pytest.approx(13 * N2)
    assert found.saving == pytest.approx(1 - found.plan.usd_per_h / (7 * N2))
    assert found.saving < found.saving_per_tenant


def test_tenants_that_fit_one_machine_only_pooled_take_one_machine() -> None:
    small = machine_type(machine_profile("small", {"a": 100.0}), 1.0)
    fleet = problem({"t1": ("a", 60), "t2": ("a", 30)}, small)
    assert dedicated(fleet).usd_per_h == pytest.approx(1.0)
    assert dedicated_per_tenant(fleet).usd_per_h == pytest.approx(2.0)
    (only,) = dedicated(fleet).machines
    assert only.tenants == pytest.approx({"t1": 60, "t2": 30})
    found = answer(fleet)
    assert found.plan.usd_per_h == pytest.approx(1.0)
    assert found.saving == pytest.approx(0.0)  # pooling one model is not a saving of sharing


def test_a_model_alone_runs_up_to_its_best_lambda_in_the_greedy_and_the_milp_alike() -> None:
    # λ shared 100, best 130; tenants of one model at 70 and 55: 125 ≤ 130 on one machine of its own.
    small = machine_type(machine_profile("small", {"a": 100.0}, best={"a": 130.0}), 1.0)
    fleet = problem({"t1": ("a", 70), "t2": ("a", 55)}, small)
    fast = greedy.solve(fleet)
    assert fast.usd_per_h == pytest.approx(1.0)
    (only,) = fast.machines
    assert only.predicted_load == pytest.approx(125 / 130)
    # The MILP on its own (a reference it cannot beat is only its cap on machines): also one machine.
    exact = milp.solve(fleet, dedicated_per_tenant(fleet), time_limit_s=2)
    assert exact.solver["status"] == "optimal"
    assert exact.solver["objective_usd_per_h"] == pytest.approx(1.0)
    assert exact.usd_per_h == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(fleets(), st.data())
def test_the_greedys_incremental_load_is_the_capacity_models_load(
    fleet: Problem, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(fleet.types))
    state = MachineLoad(kind.capacity)
    rates: dict[str, float] = {}
    for _ in range(data.draw(st.integers(1, 6))):
        model = data.draw(st.sampled_from(["a", "b", "c", "d"]))
        rate = data.draw(st.floats(0.5, 150))
        predicted = state.load_with(model, rate)
        state.add(model, rate)
        rates[model] = rates.get(model, 0.0) + rate
        assert predicted == pytest.approx(kind.capacity.load(rates), rel=1e-9, abs=1e-12)
        assert state.load == pytest.approx(kind.capacity.load(rates), rel=1e-9, abs=1e-12)


def _loads_are_the_capacity_models(plan: Plan, fleet: Problem) -> None:
    for m in plan.machines:
        assert m.predicted_load == kind_load(fleet, m.type, m.models)
        assert m.predicted_load <= 1.0 + 1e-6, m


def kind_load(fleet: Problem, type_id: str, models: dict[str, float]) -> float:
    return fleet.type(type_id).capacity.load(models)


@settings(max_examples=30, deadline=None)
@given(fleets())
def test_the_milp_at_its_gap_never_costs_more_than_the_greedy(fleet: Problem) -> None:
    fast = greedy.solve(fleet)
    # The per-tenant baseline as the reference: the MILP's own answer, not the greedy's kept.
    exact = milp.solve(fleet, dedicated_per_tenant(fleet), time_limit_s=5, gap=0.01)
    for plan in (fast, exact, dedicated(fleet)):
        _loads_are_the_capacity_models(plan, fleet)
    if exact.solver["status"] == "optimal" and exact.method == "milp":
        objective = float(str(exact.solver["objective_usd_per_h"]))
        assert objective == pytest.approx(exact.usd_per_h)
        assert objective <= fast.usd_per_h / (1 - 0.01) + 1e-9


def _parts_are_judgeable(plan: Plan, fleet: Problem) -> None:
    """Every part of a tenant is at least its least part (or the whole tenant); the one exception, a
    tenant no number k of machines of the type chosen can hold in parts of at least its least part
    (k × least ≤ rate ≤ k × the most one machine serves), is flagged (a cheaper type won over one
    that holds it whole). Tenants sharing a model with others are cut by a heuristic: any part of theirs
    below the least is flagged, and the plan says so."""
    for m in plan.machines:
        for name, rate in m.tenants.items():
            tenant = fleet.by_name[name]
            if rate < min(tenant.min_part_rps, tenant.rate_rps) - 1e-6:
                assert any("too small a part" in f for f in m.flags)
                assert any(name in note for note in plan.notes if "too small to judge" in note)
                if len(fleet.by_model[tenant.model]) > 1:
                    continue
                most = fleet.type(m.type).capacity.best(tenant.model)
                whole = math.floor(tenant.rate_rps / tenant.min_part_rps)
                assert whole * most < tenant.rate_rps, (name, rate, m)  # no k parts fit


@st.composite
def judged_fleets(draw: st.DrawFn) -> Problem:
    base = draw(fleets())
    least = draw(st.floats(1.0, 30.0))
    return Problem(tuple(Tenant(t.name, t.model, t.rate_rps, SLA, least) for t in base.tenants), base.types)


@settings(max_examples=30, deadline=None)
@given(judged_fleets())
def test_no_plan_cuts_a_tenant_finer_than_a_validation_can_judge(fleet: Problem) -> None:
    for method in ("greedy", "milp"):
        found = solve.plan(fleet, method, time_limit_s=5)  # type: ignore[arg-type]
        _loads_are_the_capacity_models(found, fleet)
        _parts_are_judgeable(found, fleet)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("pqrstu"), st.floats(0.5, 300), min_size=1),
    st.floats(5, 200),
    st.floats(0, 40),
)
def test_a_cut_keeps_every_rate_and_capacity_and_leaves_no_crumb(
    parts: dict[str, float], cap: float, low: float
) -> None:
    n = math.ceil(sum(parts.values()) / cap)
    machines, rest = cut(parts, n, sum(parts.values()) / n, cap, {p: low for p in parts})
    served: dict[str, float] = dict(rest)
    for m in machines:
        assert sum(m.values()) <= cap * (1 + 1e-9)
        for name, rate in m.items():
            assert rate >= min(low, parts[name]) - 1e-9
            served[name] = served.get(name, 0.0) + rate
    assert served == pytest.approx(parts)


def test_a_model_spread_over_its_own_machines_is_filled_to_capacity_before_it_is_crumbled() -> None:
    # 150 req/s of one model on 2 machines of 86: at the even level (75) the cut leaves t0's 6 req/s
    # over, and spreading every tenant evenly would give t0 two 3 req/s parts (below its least, 5).
    # Filled to 86 instead: [t3 59 + t1 27 = 86], [t1 26 + t2 32 + t0 6 = 64], every part ≥ its least.
    parts = {"t0": 6.0, "t1": 53.0, "t2": 32.0, "t3": 59.0}
    low = {"t0": 5.0, "t1": 21.0, "t2": 12.0, "t3": 29.0}
    assert even(parts, 2, 86.0, low) == [{"t3": 59.0, "t1": 27.0}, {"t1": 26.0, "t2": 32.0, "t0": 6.0}]
