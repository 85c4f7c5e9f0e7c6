"""pairs: auto (planner/pair_choice.py): the fleet planned from the pairs measured so far, every other pair at
the cautious κ; the pairs its plan co-locates that are not measured are measured next, until none is.
Profiles built by hand (planner_cases), every expected pair worked out below."""

import pytest

from perseus.config.plan import PlanFile
from perseus.config.prices import Machine
from perseus.core.errors import ConfigError
from perseus.planner import solve
from perseus.planner.capacity import Pair
from perseus.planner.pair_choice import (
    CAUTIOUS_KAPPA,
    Demand,
    cautious,
    choose,
    demand_of,
    next_round,
)
from perseus.planner.problem import Plan, PlannedMachine, Tenant
from tests.unit.planner_cases import GIB, SLA, machine_profile

# Four models, λ 100 req/s each. Works (r/λ): a 0.2, b 0.2, c 0.1, d 0.45. Memory (GiB): a 0.7, b 0.2,
# c 0.4, d 0.4, on machines with 1 GiB for the tenants. At the cautious κ 0.4 a pair fits when its works
# add to ≤ 0.6 and its memory to ≤ 1:
#   a+b 0.4 work, 0.9 GiB: fits     a+c 1.1 GiB, a+d 1.1 GiB: never (memory)
#   b+c 0.3, 0.6 GiB: fits          b+d 0.65 work: not at κ 0.4
#   c+d 0.55, 0.8 GiB: fits         three models: Σ work + 3 × 0.4 > 1, never
# So the pairs that may share form the path a–b–c–d, whose one perfect matching is {a+b, c+d}: the only
# plan of 2 machines (4 alone is the dedicated one). No tenant is cut over machines (its least part is its
# rate), so a pair shares with all of both its tenants or not at all.
LAM = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 100.0}
MEMORY = {"a": 0.7, "b": 0.2, "c": 0.4, "d": 0.4}
RATES = {"a": 20.0, "b": 20.0, "c": 10.0, "d": 45.0}
DEMAND = Demand(tuple(Tenant(f"{m}-1", m, r, SLA, r) for m, r in RATES.items()), "n2", 1.0, 1.0 * GIB)


def truth(kappa: dict[Pair, float]) -> object:
    """What a profile would measure of every pair: the choice must only ever read the pairs it chose."""
    return machine_profile("n2", LAM, kappa, memory_gib=MEMORY)


def run(kappa: dict[Pair, float]) -> tuple[object, list[tuple[Pair, ...]]]:
    measured: list[tuple[Pair, ...]] = []

    def measure(pairs: tuple[Pair, ...]) -> bool:
        measured.append(pairs)
        return True

    profile = truth(kappa)
    return choose(DEMAND, lambda: profile, measure), measured  # type: ignore[arg-type]


def test_only_the_pairs_the_plan_co_locates_are_measured() -> None:
    # Every pair measured good (κ 0.1; b+d's 0.1 too, which would let b+d share: never read, never
    # measured). Round 1: {a+b, c+d}, 2 machines. Round 2 plans with a+b and c+d at 0.1 (loads 0.5 and
    # 0.65): still the only 2-machine plan (1 machine would hold all four: 0.85 + six pair terms > 1),
    # and it co-locates no pair not measured: done, 2 of the 6 pairs measured.
    choice, measured = run(
        {p: 0.1 for p in [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]}
    )
    assert measured == [(("a", "b"), ("c", "d"))]
    assert [r.pairs for r in choice.rounds] == [(("a", "b"), ("c", "d")), ()]
    assert [r.machines for r in choice.rounds] == [2, 2]
    assert choice.measured == {("a", "b"): 1, ("c", "d"): 1}
    assert choice.finished and choice.unplanned == ()


def test_a_pair_that_turns_out_bad_changes_the_plan_and_a_new_pair_is_measured() -> None:
    # a+b and c+d measured bad (κ 0.9): a+b's load 0.4 + 0.9 = 1.3, c+d's 0.55 + 0.9 = 1.45, neither fits.
    # Round 2: the one pair left that may share is b+c (0.3 + 0.4 = 0.7 at the cautious κ): {b+c}, a, d,
    # 3 machines, and b+c is measured. Round 3: b+c measured at 0.2 (0.5): the same plan, done.
    choice, measured = run({("a", "b"): 0.9, ("c", "d"): 0.9, ("b", "c"): 0.2})
    assert measured == [(("a", "b"), ("c", "d")), (("b", "c"),)]
    assert [r.pairs for r in choice.rounds] == [(("a", "b"), ("c", "d")), (("b", "c"),), ()]
    assert [r.machines for r in choice.rounds] == [2, 3, 3]
    assert choice.measured == {("a", "b"): 1, ("c", "d"): 1, ("b", "c"): 2}


def test_a_new_pair_that_is_bad_too_ends_with_nothing_shared() -> None:
    # As above, but b+c measured at 0.8 (0.3 + 0.8 = 1.1: it does not fit): round 3 plans every model
    # alone (4 machines) and co-locates nothing: done after 3 pairs.
    choice, _ = run({("a", "b"): 0.9, ("c", "d"): 0.9, ("b", "c"): 0.8})
    assert [r.pairs for r in choice.rounds] == [(("a", "b"), ("c", "d")), (("b", "c"),), ()]
    assert [r.machines for r in choice.rounds] == [2, 3, 4]


def test_a_guessed_pair_that_saves_no_machine_is_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plan may put a guessed pair together for nothing (a part of a tenant beside another on a machine
    # rented anyway). Stand-in solver: the plan with guesses holds b+d on one of its 4 machines (1 $/h each);
    # planned with every pair not measured kept apart it costs `apart` $/h. At 4 the guess saves nothing:
    # no pair measured; at 5 it saves a machine: b+d measured.
    def machine(models: dict[str, float]) -> PlannedMachine:
        return PlannedMachine("n2", {f"{m}-1": r for m, r in models.items()}, models, 0.9, 1.0, False)

    for apart, expected in [(4.0, ()), (5.0, (("b", "d"),))]:
        plans = iter(
            [
                Plan("milp", (machine({"b": 15.0, "d": 35.0}), *(machine({m: 1.0}) for m in "abc")), 0.0),
                Plan("milp", tuple(machine({m: 1.0}) for m in "abcde"[: int(apart)]), 0.0),
            ]
        )
        monkeypatch.setattr(solve, "plan", lambda *args, plans=plans: next(plans))
        found = next_round(DEMAND, truth({}), set(), 1)  # type: ignore[arg-type]
        assert found.pairs == expected


def test_rounds_stop_where_a_round_is_not_measured() -> None:
    # A resumed or interrupted run: round 1's pairs are not stored yet, so there is no round 2.
    profile = truth({})
    choice = choose(DEMAND, lambda: profile, lambda pairs: False)  # type: ignore[arg-type,return-value]
    assert [r.pairs for r in choice.rounds] == [(("a", "b"), ("c", "d"))]
    assert not choice.finished


def test_round_one_reads_no_measured_pair() -> None:
    # A profile holding every pair (the store of a resumed run) plans round 1 as if none were measured:
    # b+d at κ 0 would share (0.65 + 0 ≤ 1), but it is not measured before round 1, so it is at 0.4.
    everything = truth({("b", "d"): 0.0, ("a", "b"): 0.1, ("c", "d"): 0.1})
    first = next_round(DEMAND, everything, set(), 1)  # type: ignore[arg-type]
    assert first.pairs == (("a", "b"), ("c", "d"))


def test_the_cautious_bound_is_taken_for_every_pair_not_measured() -> None:
    # a+b measured at 0.2 and c+d at −0.1 (a gain). The least squares would give a+c p_a + p_c = 0.05 (it
    # is 0.1 + (−0.05)); the choice takes 0.4. b+d measured in the profile but not among `measured`: 0.4.
    profile = truth({("a", "b"): 0.2, ("c", "d"): -0.1, ("b", "d"): 0.0})
    model = cautious(profile, {("a", "b"), ("c", "d")})  # type: ignore[arg-type]
    assert model.kappa[("a", "b")] == pytest.approx(0.2)
    assert model.kappa[("c", "d")] == pytest.approx(-0.1)
    assert CAUTIOUS_KAPPA == 0.4
    assert model.kappa[("a", "c")] == model.kappa[("b", "d")] == model.kappa[("a", "d")] == 0.4
    assert model.measured == {("a", "b"), ("c", "d")}


def test_tenants_the_type_cannot_serve_are_left_out() -> None:
    # d under a stricter SLA (p95 ≤ 50 ms) than profiled (100 ms): not planned, and the choice says so. a,
    # b, c on 2 machines: a+b beside c, or b+c beside a (a+c never: memory), one pair either way, measured
    # at 0.1 in round 1; round 2 keeps it.
    tenants = tuple(t if t.model != "d" else Tenant("d-1", "d", 35.0, "p95=50ms") for t in DEMAND.tenants)
    profile = truth({("a", "b"): 0.1, ("b", "c"): 0.1})
    choice = choose(Demand(tenants, "n2", 1.0, 1.0 * GIB), lambda: profile, lambda pairs: True)  # type: ignore[arg-type,return-value]
    assert choice.unplanned == ("d-1",)
    assert len(choice.rounds[0].pairs) == 1 and choice.finished


def test_the_fleet_file_names_models_by_name_or_spec() -> None:
    plan = PlanFile.model_validate(
        {
            "name": "f",
            "profiles": ["p"],
            "server_memory_gib": 1.0,
            "validate_s": 20.0,
            "tenants": [
                {"model": "resnet50", "rate": 3, "sla": "p95=100ms"},
                {"name": "x", "model": "synthetic-sleep:service_ms=10", "rate": 5, "sla": "p95=200ms"},
            ],
        }
    )
    machine = Machine.model_validate(
        {
            "id": "n2",
            "provider": "gcp",
            "name": "n2-standard-2",
            "region": "us-central1",
            "usd_per_h": 0.1,
            "vcpus": 2,
            "memory_gib": 8.0,
            "source": "https://example.com/prices",
            "as_of": "2026-12-01",
        }
    )
    refs = {"resnet50": "resnet50", "sleeper": "sleeper", "synthetic-sleep:service_ms=10": "sleeper"}
    demand = demand_of(plan, machine, refs)
    # p95 needs 100 latencies (5 above it): in a 20 s validation, 5 req/s is the least part.
    assert demand.tenants == (
        Tenant("resnet50-1", "resnet50", 3.0, "p95=100ms", 5.0),
        Tenant("x", "sleeper", 5.0, "p95=200ms", 5.0),
    )
    assert demand.memory_bytes == 7.0 * GIB and demand.usd_per_h == 0.1
    with pytest.raises(ConfigError, match="resnet50, not among the profile's models"):
        demand_of(plan, machine, {"sleeper": "sleeper", "synthetic-sleep:service_ms=10": "sleeper"})
