"""A set of 3+ models measured together as evidence for its pairs (capacity.set_kappas), and `pairs: auto`
with `auto_sets` measuring a planned machine of 3+ models as one set instead of its pairs
(pair_choice.to_measure). Profiles built by hand (planner_cases), every κ worked out below."""

import itertools
from dataclasses import replace

import pytest

from perseus.core.interval import Estimate
from perseus.planner.capacity import fit, prediction_checks
from perseus.planner.pair_choice import Demand, choose, to_measure
from perseus.planner.problem import Plan, PlannedMachine, Tenant
from perseus.planner.profile import Colocation
from tests.unit.planner_cases import GIB, SLA, machine_profile

LAM = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 100.0}


def test_a_set_gives_its_pairs_not_measured_what_its_interference_leaves_them() -> None:
    # a+b measured at κ 0.2; a+b+c measured together at e 0.9 (κ_S 0.1). At equal shares the model's
    # interference is the mean of the set's 3 pairs' κ: a+c and b+c share 3 × 0.1 − 0.2 = 0.1, 0.05 each.
    capacity = fit(machine_profile("n", LAM, {("a", "b"): 0.2, ("a", "b", "c"): 0.1}))
    assert capacity.kappa[("a", "b")] == pytest.approx(0.2)
    assert capacity.kappa[("a", "c")] == pytest.approx(0.05) == capacity.kappa[("b", "c")]
    assert capacity.from_sets == {("a", "c"), ("b", "c")} and capacity.measured == {("a", "b")}
    assert capacity.covered == {("a", "b"), ("a", "c"), ("b", "c")}
    # So the set is predicted as measured, at equal shares: 0.9 of a machine's work.
    assert capacity.predicted_capacity(("a", "b", "c")) == pytest.approx(0.9, abs=1e-6)
    # d, in nothing measured: the cautious floor; and a machine says which κ come from a set.
    assert capacity.kappa[("c", "d")] == pytest.approx(0.4)
    assert capacity.flags(("a", "b", "c")) == ["pair measured only inside a set, κ from the set: a+c, b+c"]
    assert capacity.flags(("c", "d")) == ["pair not measured, κ predicted: c+d"]
    # Without the sets (what prediction_checks predicts a set from: its pairs), a+c is at the floor.
    assert fit(machine_profile("n", LAM, {("a", "b"): 0.2, ("a", "b", "c"): 0.1}), sets=False).kappa[
        ("a", "c")
    ] == pytest.approx(0.4)


def test_a_set_checks_against_its_pairs_not_against_itself() -> None:
    profile = machine_profile("n", LAM, {("a", "b"): 0.2, ("a", "b", "c"): 0.1})
    (check,) = prediction_checks([profile]).sets
    # From its pairs: a+b 0.2, a+c and b+c at the floor 0.4: mean 1/3: capacity 2/3, not the 0.9 measured.
    assert check.measured == pytest.approx(0.9) and check.predicted == pytest.approx(2 / 3, abs=1e-6)


def test_a_set_gives_no_gain_and_at_most_a_pair_apart() -> None:
    # The set interferes less than its measured pair alone: what is left is below 0, taken as 0 (no gain
    # is assumed of a set). A set that met no SLA at any rate (e 0): its pairs not measured at 1, apart.
    low = fit(machine_profile("n", LAM, {("a", "b"): 0.5, ("a", "b", "c"): 0.1}))
    assert low.kappa[("a", "c")] == 0.0 == low.kappa[("b", "c")]
    unmet = fit(machine_profile("n", LAM, {("a", "b", "c"): 1.0}))
    assert unmet.kappa[("a", "c")] == 1.0 == unmet.kappa[("a", "b")]


def test_a_pair_in_two_sets_takes_the_larger_kappa() -> None:
    capacity = fit(machine_profile("n", LAM, {("a", "b", "c"): 0.1, ("a", "b", "d"): 0.3}))
    assert capacity.kappa[("a", "b")] == pytest.approx(0.3)
    assert capacity.kappa[("a", "c")] == pytest.approx(0.1) and capacity.kappa[("b", "d")] == pytest.approx(
        0.3
    )


def test_a_machine_of_three_is_measured_as_its_set() -> None:
    three = {"a": 10.0, "b": 10.0, "c": 10.0}
    planned = Plan(
        "greedy",
        (
            PlannedMachine("n", {f"{m}-1": r for m, r in three.items()}, three, 0.7, 1.0, False),
            PlannedMachine("n", {"d-1": 10.0}, {"d": 10.0}, 0.1, 1.0, True),
        ),
        1.0,
    )
    assert to_measure(planned, set(), sets=True) == (("a", "b", "c"),)
    assert to_measure(planned, set(), sets=False) == (("a", "b"), ("a", "c"), ("b", "c"))
    # Its pairs all measured (alone or in a set): nothing to measure.
    assert to_measure(planned, {("a", "b"), ("a", "c"), ("b", "c")}, sets=True) == ()


def _demand(sets: bool) -> Demand:
    # Works 0.1 each: at the cautious κ 0.4, all three on one machine (0.3 + 0.4 = 0.7 ≤ 1), where alone
    # they take three.
    tenants = tuple(Tenant(f"{m}-1", m, 10.0, SLA, 10.0) for m in "abc")
    return Demand(tenants, "n", 1.0, 8.0 * GIB, sets=sets)


def test_rounds_with_sets_measure_one_set_where_pairs_take_three() -> None:
    # What a profile would measure of each: every pair κ 0.1, the set κ 0.1.
    truth = machine_profile(
        "n",
        {m: 100.0 for m in "abc"},
        {("a", "b"): 0.1, ("a", "c"): 0.1, ("b", "c"): 0.1, ("a", "b", "c"): 0.1},
    )
    asked: list[tuple[tuple[str, ...], ...]] = []

    def measure(chosen: tuple[tuple[str, ...], ...]) -> bool:
        asked.append(chosen)
        return True

    # Round 1 plans one machine and measures its set; round 2 reads the set's κ (0.1) for every pair of it:
    # the same machine, every pair covered: done.
    choice = choose(_demand(True), lambda: truth, measure)
    assert asked == [(("a", "b", "c"),)] and choice.finished
    assert choice.measured == {("a", "b", "c"): 1}
    assert choice.covered == {("a", "b"): 1, ("a", "c"): 1, ("b", "c"): 1}
    asked.clear()
    pairs = choose(_demand(False), lambda: truth, measure)
    assert asked == [(("a", "b"), ("a", "c"), ("b", "c"))] and pairs.finished


def test_a_larger_set_that_fails_blames_its_new_pairs_not_a_smaller_set_that_fit() -> None:
    # a+b+c measured at e 0.95 (κ 0.05 each, none measured alone); a+b+c+d met no SLA at any rate (κ_S 1):
    # of its 6 pairs the 3 of a+b+c are known from the smaller set (0.05), so d's 3 pairs carry the rest,
    # (6 × 1 − 3 × 0.05) / 3 > 1: 1, apart. Read the other way round, every pair of a+b+c would be at 1
    # too, and the plan would keep all four apart (measured: 2026-12-08, stop 32).
    capacity = fit(machine_profile("n", LAM, {("a", "b", "c"): 0.05, ("a", "b", "c", "d"): 1.0}))
    assert [capacity.kappa[p] for p in [("a", "b"), ("a", "c"), ("b", "c")]] == pytest.approx([0.05] * 3)
    assert [capacity.kappa[p] for p in [("a", "d"), ("b", "d"), ("c", "d")]] == [1.0] * 3


def _unjudged(models: tuple[str, ...], lowest: float = 1.04) -> Colocation:
    """A set that missed an SLA at the least load a trial could judge (its slowest tenant's), `lowest` of
    one machine's work: e < lowest, nothing more."""
    return Colocation(models, {}, Estimate(0.0, 0.0, lowest, 1))


def test_a_set_not_judged_below_one_machines_work_says_nothing_of_its_pairs() -> None:
    profile = machine_profile("n", LAM, {("a", "b", "c"): 0.05})
    profile = replace(profile, colocations=(*profile.colocations, _unjudged(("a", "b", "c", "d"))))
    capacity = fit(profile)
    assert capacity.kappa[("a", "b")] == pytest.approx(0.05)
    # d's pairs: nothing measured of d beside anything: the cautious floor, flagged as predicted.
    assert capacity.kappa[("a", "d")] == pytest.approx(0.4) and ("a", "d") not in capacity.covered
    # Missed even at 0.8 of a machine's work: judged, e < 0.8; its new pairs carry the rest (> 1): 1.
    judged = replace(profile, colocations=(*profile.colocations[:1], _unjudged(("a", "b", "c", "d"), 0.8)))
    assert fit(judged).kappa[("a", "d")] == 1.0


def test_rounds_measure_alone_the_pairs_a_set_could_not_judge() -> None:
    # Works 0.1 each: at κ 0.4 all four on one machine. Round 1 measures the set of four; it could not be
    # judged below 1.04 of a machine's work (its pairs stay at κ 0.4), the plan is the same machine, and
    # round 2 measures its six pairs alone (the set again would tell nothing more).
    tenants = tuple(Tenant(f"{m}-1", m, 10.0, SLA, 10.0) for m in "abcd")
    demand = Demand(tenants, "n", 1.0, 8.0 * GIB, sets=True)
    truth = machine_profile("n", LAM, {(a, b): 0.1 for a, b in itertools.combinations("abcd", 2)})
    truth = replace(truth, colocations=(*truth.colocations, _unjudged(("a", "b", "c", "d"))))
    asked: list[tuple[tuple[str, ...], ...]] = []

    def measure(chosen: tuple[tuple[str, ...], ...]) -> bool:
        asked.append(chosen)
        return True

    choice = choose(demand, lambda: truth, measure)
    assert asked == [(("a", "b", "c", "d"),), tuple(itertools.combinations("abcd", 2))] and choice.finished
    assert choice.covered[("a", "b")] == 2  # measured alone in round 2, not only inside round 1's set
