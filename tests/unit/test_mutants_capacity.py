"""The capacity model at its edges, each value worked by hand: what the mutation check (benchmarks/
mutants.py, docs/mutants.md) found no other unit test pinned — a pair that met no SLA, gains at small
works, the incremental load of a machine being filled, and κ predicted for pairs never measured."""

import pytest

from perseus.core.interval import Estimate
from perseus.planner.capacity import CAUTIOUS_KAPPA, MachineLoad, fit
from perseus.planner.profile import Colocation, MachineProfile
from tests.unit.planner_cases import machine_profile


def test_a_pair_that_met_no_sla_is_charged_in_full() -> None:
    # κ = 1 (e = 0: together they carried nothing): a + b at 10 req/s each load 0.1 + 0.1 + 1.
    capacity = fit(machine_profile("m", {"a": 100.0, "b": 100.0}, {("a", "b"): 1.0}))
    assert capacity.load({"a": 10.0, "b": 10.0}) == pytest.approx(1.2)
    box = MachineLoad(capacity)
    box.add("a", 10.0)
    assert box.load_with("b", 10.0) == pytest.approx(1.2)


def test_a_machine_being_filled_averages_its_pairs_kappa_weighted_by_their_works() -> None:
    # a + c harmless (κ 0), b + c interfere (κ 0.3), each at work 0.1: the pairs' κ averaged with weights
    # w·w (0.01 each): 0.3 × 0.01 / 0.03 = 0.1, so c beside a and b loads 0.1 × 3 + 0.1.
    kappa = {("a", "b"): 0.0, ("a", "c"): 0.0, ("b", "c"): 0.3}
    capacity = fit(machine_profile("m", dict.fromkeys("abc", 100.0), kappa))
    box = MachineLoad(capacity)
    box.add("a", 10.0)
    box.add("b", 10.0)
    assert box.load_with("c", 10.0) == pytest.approx(0.4)
    assert capacity.load({"a": 10.0, "b": 10.0, "c": 10.0}) == pytest.approx(0.4)


def test_a_small_harmless_tenant_does_not_dilute_a_pairs_interference() -> None:
    # a + b interfere (κ 0.4) at work 0.3 each; c, harmless beside both, at work 0.01. Weights: a·b 0.09,
    # a·c = b·c 0.003: interference 0.4 × 0.09 / 0.096 = 0.375 (an unweighted mean of the three pairs'
    # κ would be 0.133); load 0.61 + 0.375.
    kappa = {("a", "b"): 0.4, ("a", "c"): 0.0, ("b", "c"): 0.0}
    capacity = fit(machine_profile("m", dict.fromkeys("abc", 100.0), kappa))
    assert capacity.load({"a": 30.0, "b": 30.0, "c": 1.0}) == pytest.approx(0.985)
    box = MachineLoad(capacity)
    box.add("c", 1.0)
    box.add("a", 30.0)
    assert box.load_with("b", 30.0) == pytest.approx(0.985)
    box.add("b", 20.0)  # b in two pieces: its weights grow with its work
    assert box.load_with("b", 10.0) == pytest.approx(0.985)
    # The pair alone carries its κ whatever its mix: 0.3 + 0.01 + 0.4.
    assert capacity.load({"a": 30.0, "b": 1.0}) == pytest.approx(0.71)


def test_a_pair_that_met_no_sla_is_charged_in_full_beside_any_third_model() -> None:
    # a + b met no SLA together (κ 1); c, harmless, carries most of the work: a third model does not
    # make them fit. 0.05 + 0.05 + 0.5 + 1 (not the weighted mean's 1 × 0.0025 / 0.0525).
    kappa = {("a", "b"): 1.0, ("a", "c"): 0.0, ("b", "c"): 0.0}
    capacity = fit(machine_profile("m", dict.fromkeys("abc", 100.0), kappa))
    assert capacity.load({"a": 5.0, "b": 5.0, "c": 50.0}) == pytest.approx(1.6)
    box = MachineLoad(capacity)
    box.add("c", 50.0)
    box.add("a", 2.0)
    box.add("a", 3.0)
    assert box.load_with("b", 5.0) == pytest.approx(1.6)
    box.add("b", 5.0)
    assert box.load == pytest.approx(1.6)


def test_a_gain_is_its_slope_times_the_lesser_work_and_a_model_added_twice_counts_in_full() -> None:
    # κ −0.5, slope 0.5 / 0.75. At 10 + 10 req/s: gain min(0.5, 0.1 × 2/3), load 0.2 − 0.0667.
    capacity = fit(machine_profile("m", {"x": 100.0, "y": 100.0}, {("x", "y"): -0.5}))
    assert capacity.load({"x": 10.0, "y": 10.0}) == pytest.approx(0.2 - 0.2 / 3)
    # x in two pieces of 30: its work 0.6, so the gain is min(0.5, 0.6 × 2/3) = 0.4; load 1.2 − 0.4.
    box = MachineLoad(capacity)
    box.add("x", 30.0)
    box.add("x", 30.0)
    box.add("y", 60.0)
    assert box.load == pytest.approx(0.8)
    assert capacity.load({"x": 60.0, "y": 60.0}) == pytest.approx(0.8)


def test_a_model_offered_nothing_leaves_the_other_alone_at_its_best_setting() -> None:
    # a: λ 100 shared, 120 alone at its best setting; b at 0 req/s is not on the machine: 60 / 120.
    capacity = fit(machine_profile("m", {"a": 100.0, "b": 100.0}, {("a", "b"): 0.2}, best={"a": 120.0}))
    assert capacity.load({"a": 60.0, "b": 0.0}) == pytest.approx(0.5)


def test_pairs_never_measured_are_predicted_from_pressures_or_the_worst_measured() -> None:
    # Measured: a+b 0.4, b+c 0.6, a+c 0.6, c+d 0.7. Pressures with κ = p + p': p_a = p_b = 0.2,
    # p_c = 0.4, p_d = 0.3 (solved exactly). Never measured: a+d = b+d = 0.2 + 0.3 = 0.5.
    kappa = {("a", "b"): 0.4, ("b", "c"): 0.6, ("a", "c"): 0.6, ("c", "d"): 0.7}
    capacity = fit(machine_profile("m", dict.fromkeys("abcd", 100.0), kappa))
    assert capacity.kappa[("a", "d")] == pytest.approx(0.5)
    assert capacity.kappa[("b", "d")] == pytest.approx(0.5)
    assert capacity.kappa[("c", "d")] == pytest.approx(0.7)  # measured: as measured
    # e, in no measured pair, gets the worst κ measured beside anyone: 0.7.
    capacity = fit(machine_profile("m", dict.fromkeys("abcde", 100.0), kappa))
    assert capacity.kappa[("a", "e")] == pytest.approx(0.7)
    assert capacity.kappa[("d", "e")] == pytest.approx(0.7)


def test_a_pair_never_measured_is_never_below_the_cautious_floor() -> None:
    # Measured: a+b 0.2, b+c 0.4, a+c 0.4, c+d 0.5: pressures p_a = p_b = 0.1, p_c = 0.3, p_d = 0.2
    # predict a+d 0.3, below CAUTIOUS_KAPPA: 0.4. A model in no measured pair beside harmless pairs
    # only (the worst measured 0.1): 0.4.
    kappa = {("a", "b"): 0.2, ("b", "c"): 0.4, ("a", "c"): 0.4, ("c", "d"): 0.5}
    capacity = fit(machine_profile("m", dict.fromkeys("abcd", 100.0), kappa))
    assert capacity.kappa[("a", "d")] == capacity.kappa[("b", "d")] == CAUTIOUS_KAPPA == 0.4
    capacity = fit(machine_profile("m", dict.fromkeys("abc", 100.0), {("a", "b"): 0.1}))
    assert capacity.kappa[("a", "c")] == capacity.kappa[("b", "c")] == 0.4
    assert capacity.flags(["a", "b", "c"]) == ["pair not measured, κ predicted: a+c, b+c"]


def test_a_pair_stored_in_either_order_is_measured() -> None:
    base = machine_profile("m", {"a": 100.0, "b": 100.0})
    point = Colocation(("b", "a"), {"b": 35.0, "a": 35.0}, Estimate.exact(0.7))
    capacity = fit(MachineProfile("m", base.models, (point,), "by hand"))
    assert capacity.kappa[("a", "b")] == pytest.approx(0.3)
    assert capacity.flags(["a", "b"]) == []
