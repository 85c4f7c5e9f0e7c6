"""The planning problem and the dedicated baseline at their edges, each value worked by hand: what the
mutation check (benchmarks/mutants.py, docs/mutants.md) found no other unit test pinned."""

from dataclasses import replace

import pytest

from perseus.core.errors import ConfigError
from perseus.planner.problem import MachineType, Problem, Tenant, cut, dedicated, even, machine
from tests.unit.planner_cases import SLA, machine_profile, machine_type, problem


def _kind(name: str, lam: float, usd: float) -> MachineType:
    return replace(machine_type(machine_profile(name, {"x": lam}), usd), id=name)


def test_a_tenant_offered_nothing_is_refused() -> None:
    with pytest.raises(ConfigError, match="tenant t: rate must be > 0"):
        problem({"t": ("x", 0.0)}, _kind("A", 100.0, 1.0)).check()


def test_a_machines_flags_name_parts_too_small_and_an_extrapolated_profile() -> None:
    kind = _kind("A", 100.0, 1.0)
    wanted = Problem((Tenant("t", "x", 80.0, SLA, 40.0),), (kind,))
    # 39.5 req/s of a tenant whose least part is 40: too small; 40 is not.
    assert machine(kind, {"t": 39.5}, wanted).flags == ("too small a part to judge in a validation: t",)
    assert machine(kind, {"t": 40.0}, wanted).flags == ()
    scaled = replace(
        kind, capacity=replace(kind.capacity, profile=replace(kind.capacity.profile, extrapolated_from="B"))
    )
    assert machine(scaled, {"t": 40.0}, wanted).flags == ("λ extrapolated from B",)


def test_dedicated_takes_exactly_the_machines_a_rate_fills() -> None:
    # 200 req/s at λ 100: 2 machines, not 3.
    plan = dedicated(problem({"t": ("x", 200.0)}, _kind("A", 100.0, 1.0)))
    assert [m.tenants for m in plan.machines] == [{"t": 100.0}, {"t": 100.0}]


def test_dedicated_places_every_model_after_one_no_type_serves_whole() -> None:
    # x's tenants want p99 and p95 bounds that only A and B measured respectively; y is served by A.
    def kind(name: str, sla: str) -> MachineType:
        base = machine_profile(name, {"x": 100.0, "y": 100.0})
        models = {**base.models, "x": replace(base.models["x"], sla=sla)}
        return machine_type(replace(base, models=models), 1.0)

    a, b = kind("A", "p99=100ms"), kind("B", "p95=50ms")
    tenants = (
        Tenant("t1", "x", 50.0, "p99=100ms"),
        Tenant("t2", "x", 60.0, "p95=50ms"),
        Tenant("t3", "y", 30.0, SLA),
    )
    plan = dedicated(Problem(tenants, (a, b)))
    assert sorted((m.type, sorted(m.tenants.items())) for m in plan.machines) == [
        ("A", [("t1", 50.0)]),
        ("A", [("t3", 30.0)]),
        ("B", [("t2", 60.0)]),
    ]


def test_dedicated_tries_every_bulk_type_and_a_tail_of_under_one_req_s() -> None:
    big2, big, small = _kind("B2", 200.0, 3.0), _kind("B", 100.0, 2.0), _kind("S", 30.0, 0.7)
    # 130 req/s: 1 B2 ($3); 2 B ($4); 1 B + 1 S for its 30 ($2.7, the cheapest); 5 S ($3.5). B2 comes
    # first and is filled by no whole machine: the other types' options are still tried.
    assert dedicated(problem({"t": ("x", 130.0)}, big2, big, small)).usd_per_h == pytest.approx(2.7)
    # 100.5 req/s: 1 B + 1 S for the last 0.5 req/s ($2.7) against 2 B ($4) or 4 S ($2.8).
    assert dedicated(problem({"t": ("x", 100.5)}, big, small)).usd_per_h == pytest.approx(2.7)


def test_a_tenant_is_kept_whole_where_the_cap_allows_and_cut_no_finer_than_its_least() -> None:
    # Even level 60 over 2 machines: t1 (70, least 30) cut at 60 would leave 10: the whole 70 fits under
    # the cap 100, so the first machine takes it; t2 then fills the second.
    assert even({"t1": 70.0, "t2": 50.0}, 2, 100.0, {"t1": 30.0, "t2": 0.0}) == [{"t1": 70.0}, {"t2": 50.0}]
    # t1 (60, least 30) beside 70: exactly 30 fit (its least), and 30 are left (its least too): cut there.
    assert cut({"t0": 70.0, "t1": 60.0}, 2, 100.0, 100.0, {"t1": 30.0}) == (
        [{"t0": 70.0, "t1": 30.0}, {"t1": 30.0}],
        {},
    )
