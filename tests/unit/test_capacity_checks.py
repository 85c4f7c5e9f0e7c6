"""The capacity model's checks (a pair left out, a measured set, a co-location measured again) and profiles
of one machine type merged over several runs, on hand-computed cases."""

from dataclasses import replace

import pytest

from perseus.core.interval import Estimate
from perseus.planner.capacity import (
    CAUTIOUS_KAPPA,
    fit,
    leave_one_pair_out,
    median_error,
    prediction_checks,
    repeat_checks,
    set_checks,
)
from perseus.planner.profile import Colocation, merged
from tests.unit.planner_cases import machine_profile

LAM = {"a": 10.0, "b": 20.0, "c": 40.0}


def _point(models: tuple[str, ...], e: float) -> Colocation:
    return Colocation(models, {}, Estimate.exact(e))


def test_a_pair_left_out_is_predicted_from_the_pressures_of_the_others() -> None:
    """κ = p_a + p_b fits a+b 0.6, a+c 0.7 exactly with any p_a; b+c is then p_b + p_c = 1.3 − 2 p_a, and
    least squares (minimum norm) takes p_a = 1.3/3: κ_bc = 13/30 (above the floor 0.4), e = 17/30
    against 0.7 measured."""
    profile = machine_profile("m", LAM, {("a", "b"): 0.6, ("a", "c"): 0.7, ("b", "c"): 0.3})
    checks = {c.models: c for c in leave_one_pair_out(profile)}
    assert checks[("b", "c")].measured == pytest.approx(0.7)
    assert checks[("b", "c")].predicted == pytest.approx(17 / 30)
    assert checks[("b", "c")].error == pytest.approx((0.7 - 17 / 30) / 0.7)


def test_a_pair_left_out_is_predicted_as_the_planner_would_never_below_the_cautious_floor() -> None:
    """Pressures from a+b and a+c (both gains, κ −0.2) predict κ_bc = −0.2, a gain of 1.2 machines' work;
    the planner gives a pair never measured no gain, nor less interference than CAUTIOUS_KAPPA (0.4), so
    the check predicts what the planner uses: e = 0.6, against 0.9 measured."""
    profile = machine_profile("m", LAM, {("a", "b"): -0.2, ("a", "c"): -0.2, ("b", "c"): 0.1})
    checks = {c.models: c for c in leave_one_pair_out(profile)}
    assert checks[("b", "c")].predicted == pytest.approx(1.0 - CAUTIOUS_KAPPA)
    without = replace(profile, colocations=profile.colocations[:2])
    assert fit(without).predicted_capacity(("b", "c")) == pytest.approx(checks[("b", "c")].predicted)


def test_a_pair_that_met_no_sla_is_no_relative_error() -> None:
    profile = machine_profile("m", LAM, {("a", "b"): 1.0, ("a", "c"): 0.3, ("b", "c"): 0.1})
    assert ("a", "b") not in {c.models for c in leave_one_pair_out(profile)}


def test_a_set_measured_twice_is_checked_once_on_its_mean() -> None:
    profile = machine_profile("m", LAM, {("a", "b"): 0.4, ("a", "c"): 0.2, ("b", "c"): 0.0})
    points = [_point(("a", "b", "c"), 0.6), _point(("c", "b", "a"), 0.9), _point(("a", "b", "c"), 0.0)]
    (check,) = set_checks(fit(profile), [*profile.colocations, *points])
    assert check.measured == pytest.approx(0.75)  # the infeasible measurement has no relative error
    # At equal shares every pair weighs the same: 1 − the mean of the pairs' κ, (0.4 + 0.2 + 0) / 3.
    assert check.predicted == pytest.approx(0.8, abs=1e-6)


def test_measured_again_each_against_the_mean_of_the_others() -> None:
    points = [_point(("a", "b"), 0.8), _point(("b", "a"), 1.0), _point(("a", "c"), 0.5)]
    checks = repeat_checks(points)
    assert [(c.measured, c.predicted) for c in checks] == [(0.8, 1.0), (1.0, 0.8)]
    assert median_error(checks) == pytest.approx((0.25 + 0.2) / 2)
    assert repeat_checks(points[2:]) == []


def test_checks_over_profiles_say_all_three() -> None:
    profile = machine_profile("m", LAM, {("a", "b"): 0.2, ("a", "c"): 0.3, ("b", "c"): 0.1})
    again = replace(profile, colocations=(*profile.colocations, _point(("a", "b"), 0.7)))
    checks = prediction_checks([again])
    assert len(checks.pairs) == 3 and checks.sets == [] and len(checks.repeats) == 2


def test_runs_merge_at_the_median_lambda_with_each_runs_knob_gain() -> None:
    """Run 1 (a fast hour) measured a at 10 req/s, 12 at its best knob setting; run 2 (a slow one) at 8,
    without knobs. Merged: λ 9 (interval 8 to 10), best 9 × 12/10 at run 1's setting, largest memory,
    every co-location point kept; a third run at 2 (a disturbed search) moves the median to 8, not 2."""
    fast = machine_profile("m", {"a": 10.0, "b": 20.0}, {("a", "b"): 0.2}, best={"a": 12.0})
    knob = replace(fast.models["a"], best_setting={"instances": 2})
    fast = replace(fast, models={**fast.models, "a": knob})
    slow = machine_profile("m", {"a": 8.0, "c": 5.0}, {("a", "c"): 0.4}, memory_gib={"a": 0.75})
    both = merged([fast, slow])
    a = both.models["a"]
    assert (a.shared_rps.value, a.shared_rps.low, a.shared_rps.high) == (9.0, 8.0, 10.0)
    assert a.best_rps.value == pytest.approx(10.8) and a.best_setting == {"instances": 2}
    assert a.memory_bytes == 0.75 * 2**30
    assert set(both.models) == {"a", "b", "c"} and both.models["b"] == fast.models["b"]
    assert len(both.colocations) == 2
    assert merged([fast]) is fast
    disturbed = machine_profile("m", {"a": 2.0})
    assert merged([fast, slow, disturbed]).models["a"].shared_rps.value == 8.0


def test_passes_merge_each_settings_median_gain_then_choose() -> None:
    """One knob setting gained 1.10, 0.95 and 0.97 over the shared setting in three passes: keeping the
    pass with the largest gain said 1.10; each setting's median over the passes, then the best, says the
    knob does not pay (0.97 < 1): the shared setting is the best, λ alone its median."""
    passes = []
    for lam, gain in ((10.0, 1.10), (9.0, 0.95), (11.0, 0.97)):
        profile = machine_profile("m", {"a": lam}, best={"a": lam * max(gain, 1.0)})
        knob = {"instances": 2}
        model = replace(
            profile.models["a"],
            best_setting=knob if gain > 1 else {},
            gains=(({}, 1.0), (knob, gain)),
        )
        passes.append(replace(profile, models={"a": model}))
    a = merged(passes).models["a"]
    assert a.shared_rps.value == 10.0
    assert a.best_setting == {} and a.best_rps.value == pytest.approx(10.0)
    assert dict(a.gains[1][0]) == {"instances": 2} and a.gains[1][1] == pytest.approx(0.97)
    # Had it gained 1.10, 1.05 and 0.97: median 1.05, that setting chosen.
    better = [
        replace(p, models={"a": replace(p.models["a"], gains=(({}, 1.0), ({"instances": 2}, g)))})
        for p, g in zip(passes, (1.10, 1.05, 0.97), strict=True)
    ]
    b = merged(better).models["a"]
    assert b.best_setting == {"instances": 2} and b.best_rps.value == pytest.approx(10.0 * 1.05)
