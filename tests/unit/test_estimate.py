"""λ from every probe (core.estimate): the queue curve fitted to hand-made exact points gives the closed
form, poor or thin evidence falls back to the bisection answer, λ never lies above a rate measured
infeasible, and `search: {estimator: fit}` is read, checked and carried to the search and the report."""

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.experiment import SearchSettings
from perseus.core.errors import ConfigError
from perseus.core.estimate import Curve, Point, bracket, estimate_peak, fit_curve
from perseus.core.reasons import Reason, Why
from perseus.experiments import peak
from perseus.experiments.registry import load_experiment, parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.search import Step, bisect, find_peak
from perseus.report.fmt import basis
from perseus.store import Store, TrialRow, TrialSummary
from perseus.store.judge import judge, sla_latency
from tests.unit.fake_server import run_on
from tests.unit.trial_rows import measured_row

Latency = Callable[[float], float]


def queue(a: float, b: float, mu: float) -> Latency:
    return lambda r: a + b * (r / mu) / (1 - r / mu)


CURVE = queue(10.0, 5.0, 100.0)  # p(r) = 10 + 5ρ/(1−ρ) ms, ρ = r/100
# p(λ) = 50 ms: ρ/(1−ρ) = (50 − 10)/5 = 8, ρ = 8/9, λ = 100 · 8/9 = 88.888… req/s.
LAMBDA = 800 / 9


def exact(rates: list[float], curve: Latency = CURVE, bound: float = 50.0) -> list[Point]:
    return [Point(r, curve(r), curve(r) <= bound) for r in rates]


def test_an_exact_curve_gives_the_closed_form() -> None:
    # Latencies 11.25, 13.33, 30, 38.33, 55, 105 ms at 20, 40, 80, 85, 90, 95 req/s: 85 meets 50 ms, 90 not.
    points = exact([20.0, 40.0, 80.0, 85.0, 90.0, 95.0])
    curve = fit_curve(points)
    assert curve is not None
    assert (curve.a, curve.b, curve.mu) == pytest.approx((10.0, 5.0, 100.0), rel=1e-6)
    got = estimate_peak(points, 50.0)
    assert got is not None and got.fitted
    assert got.estimate.value == pytest.approx(LAMBDA, abs=1e-6)
    assert got.estimate.kind == "fit90" and got.estimate.low <= got.estimate.value <= got.estimate.high
    # Noise-free points still get an interval: the host's prior spread (σ 0.12 on log latency).
    assert got.estimate.low < LAMBDA < got.estimate.high < 100.0
    assert basis(got.estimate).startswith("90% interval of the curve fitted")


def test_three_points_are_enough_and_an_mm1_curve_is_of_the_form() -> None:
    # M/M/1 with S = 10 ms: p95 = S·ln 20/(1−ρ) = a + b·ρ/(1−ρ) with a = b = 10·ln 20 = 29.957 ms, μ = 100.
    # p95 ≤ 100 ms: 1/(1−ρ) = 100/29.957 = 3.3381, ρ = 0.70043, λ = 70.043 req/s.
    mm1 = queue(10 * math.log(20), 10 * math.log(20), 100.0)
    got = estimate_peak(exact([30.0, 60.0, 75.0], mm1, 100.0), 100.0)
    assert got is not None and got.fitted
    assert got.estimate.value == pytest.approx(100 * (1 - 10 * math.log(20) / 100), abs=1e-6)
    assert got.estimate.value == pytest.approx(70.043, abs=1e-3)


def test_fewer_than_three_latencies_keep_the_bisection_answer() -> None:
    # Two latencies (20 and 40 req/s); 160 overloaded (no latency), 80 refused (no latency): the bracket.
    points = [
        Point(20.0, 12.0, True),
        Point(40.0, 15.0, True),
        Point(160.0, None, False),
        Point(80.0, None, False),
    ]
    got = estimate_peak(points, 50.0)
    assert got is not None and not got.fitted and "fewer than 3" in got.why
    assert (got.estimate.value, got.estimate.low, got.estimate.high) == (40.0, 40.0, 80.0)
    assert got.estimate.kind == "bracket"
    # The same rate measured twice is one rate: still too few to fit three parameters.
    twice = [
        Point(20.0, 12.0, True),
        Point(20.0, 13.0, True),
        Point(40.0, 15.0, True),
        Point(80.0, None, False),
    ]
    assert fit_curve(twice) is None
    assert not estimate_peak(twice, 50.0).fitted  # type: ignore[union-attr]


def test_nothing_feasible_has_no_answer() -> None:
    points = [Point(r, CURVE(r) + 100, False) for r in (20.0, 40.0, 60.0, 80.0)]
    assert estimate_peak(points, 50.0) is None and bracket(points) is None


def test_a_mess_no_queue_fits_keeps_the_bisection_answer() -> None:
    # Latencies that jump up and down by 10× between neighbouring rates: no monotone curve is near them.
    lat = {10.0: 45.0, 20.0: 4.0, 30.0: 49.0, 40.0: 3.0, 50.0: 48.0, 60.0: 2.0, 70.0: 300.0}
    points = [Point(r, p, p <= 50.0) for r, p in lat.items()]
    got = estimate_peak(points, 50.0)
    assert got is not None and not got.fitted and "misses the probes" in got.why
    assert (got.estimate.value, got.estimate.high) == (60.0, 70.0)


def test_a_curve_above_the_bound_everywhere_keeps_the_bisection_answer() -> None:
    # Latencies of 10 + 5ρ/(1−ρ) + 60 ms: the fitted a ≈ 70 > 50, so no rate meets it; one probe said
    # feasible anyway (a lucky read at 20 req/s with a latency of 49 ms would be, but this one is marked so).
    points = [Point(r, CURVE(r) + 60.0, False) for r in (30.0, 60.0, 80.0, 90.0)] + [Point(20.0, 71.25, True)]
    got = estimate_peak(points, 50.0)
    assert got is not None and not got.fitted and "above the bound at every rate" in got.why
    assert (got.estimate.value, got.estimate.high) == (20.0, 30.0)


def test_lambda_never_lies_above_a_rate_measured_infeasible() -> None:
    # The exact curve, but the probe at 86 req/s (true p95 45.7 ms) read 60 ms and was infeasible. The
    # curve still says 88.9; λ is held at 86, the lowest rate measured infeasible.
    points = [*exact([20.0, 40.0, 80.0, 84.0, 88.0, 90.0, 95.0]), Point(86.0, 60.0, False)]
    got = estimate_peak(points, 50.0)
    assert got is not None and got.fitted
    assert got.estimate.value == 86.0
    assert got.curve is not None and got.curve.rate_at(50.0) > 86.0  # type: ignore[operator]
    # Its interval goes on above 86: that probe's latency was as noisy as any other's.
    assert got.estimate.high > 86.0


def test_no_interval_goes_past_an_overloaded_probe() -> None:
    """The curve meets 50 ms at 88.9, below 89.5 where the server stopped keeping up: λ is the curve's,
    and its interval (bootstrap of the prior ±12% on 5 latencies, reaching past 89.5) stops there."""
    points = [*exact([20.0, 40.0, 80.0, 85.0, 88.0]), Point(89.5, math.inf, False)]
    got = estimate_peak(points, 50.0)
    assert got is not None and got.fitted and got.estimate.value == pytest.approx(LAMBDA, abs=1e-6)
    assert got.estimate.high == 89.5


def test_a_curve_meeting_the_bound_beyond_an_overloaded_probe_keeps_the_bracket() -> None:
    """The curve says 88.9, but the server stopped keeping up at 87 (no latency: +inf): capacity, not
    latency, bounds λ there, and the bisection's bracket 85–87 is what is known."""
    points = [*exact([20.0, 40.0, 80.0, 85.0]), Point(87.0, math.inf, False), Point(95.0, None, False)]
    got = estimate_peak(points, 50.0)
    assert got is not None and not got.fitted and "overloaded or refused" in got.why
    assert (got.estimate.value, got.estimate.low, got.estimate.high) == (85.0, 85.0, 87.0)
    # Nothing infeasible at all (the search ran out of probes rising): the fit may not go above 85 either.
    rising = estimate_peak(exact([20.0, 40.0, 80.0, 85.0]), 50.0)
    assert rising is not None and not rising.fitted and rising.estimate.value == 85.0
    # An overloaded probe above the crossing only caps: 95 (+inf) is above 88.9.
    beyond = estimate_peak([*exact([20.0, 40.0, 80.0, 85.0, 90.0]), Point(95.0, math.inf, False)], 50.0)
    assert beyond is not None and beyond.fitted and beyond.estimate.value == pytest.approx(LAMBDA, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sigma=st.sampled_from([0.05, 0.15, 0.4]),
    rates=st.lists(st.floats(5.0, 99.0), min_size=1, max_size=9),
)
def test_never_above_the_lowest_infeasible_rate(seed: int, sigma: float, rates: list[float]) -> None:
    """Whatever the noise, λ is at most the lowest rate measured infeasible, and at least a rate measured
    feasible is the answer when the fit is not used."""
    rng = np.random.default_rng(seed)
    points = []
    for r in rates:
        seen = CURVE(r) * math.exp(rng.normal(0.0, sigma))
        points.append(Point(r, seen if rng.random() > 0.2 else None, seen <= 50.0))
    got = estimate_peak(points, 50.0, samples=8)
    if not any(p.feasible for p in points):
        assert got is None
        return
    assert got is not None
    infeasible = [p.rate_rps for p in points if not p.feasible]
    if got.fitted:
        assert got.estimate.value <= min(infeasible, default=max(p.rate_rps for p in points if p.feasible))
        assert got.estimate.low <= got.estimate.value <= got.estimate.high
    else:
        assert got.estimate.value == max(p.rate_rps for p in points if p.feasible)


def test_the_same_probes_give_the_same_interval() -> None:
    """Seeded: the search and the analysis that reads its probes back get the same λ and interval."""
    rng = np.random.default_rng(7)
    points = [
        Point(r, CURVE(r) * math.exp(rng.normal(0, 0.12)), True) for r in (20.0, 50.0, 80.0, 86.0, 90.0)
    ]
    points = [Point(p.rate_rps, p.latency, (p.latency or 0) <= 50.0) for p in points]
    assert estimate_peak(points, 50.0) == estimate_peak(list(points), 50.0)


def test_the_bootstraps_refits_all_at_once_are_scipys() -> None:
    """The bootstrap refits its rows together (a vectorised Levenberg-Marquardt); each comes out where
    scipy's least squares, one row at a time, does (λ within 1e-5)."""
    from perseus.core import estimate

    rng = np.random.default_rng(3)
    points = exact([20.0, 50.0, 80.0, 86.0, 88.0, 90.0, 92.0])
    data = estimate._data(points, 50.0)
    assert data is not None
    theta = np.array([10.0, math.log(5.0), math.log(100.0 / 92.0 - 1)])
    logs = np.log([p.latency or 0.0 for p in points]) + rng.normal(0.0, 0.12, (16, len(points)))
    together = estimate._refit_all(theta, data, logs)
    for row, fit in zip(logs, together, strict=True):
        alone = estimate._refine(theta, data.again(row))
        assert alone is not None
        lam = [estimate._curve(t, data.top, math.nan, 7).rate_at(50.0) for t in (alone, fit)]
        assert lam[0] is not None and lam[1] == pytest.approx(lam[0], rel=1e-5)


def curve_probe(calls: list[float], with_latency: bool = True) -> Callable[[float], Step]:
    def probe(rate: float) -> Step:
        calls.append(rate)
        seen = CURVE(rate) if rate < 100 else math.inf
        ok = seen <= 50.0
        latency = seen if with_latency and math.isfinite(seen) else None
        return Step(rate, ok, rate, "ok" if ok else "p95 over", latency, 50.0 if latency else None)

    return probe


def test_find_peak_with_the_fit_returns_the_curves_lambda() -> None:
    # Bisection from 70 (21.7 ms: yes), opening near: 96.25 (138 ms: no), 83.125, 89.6875 (53.5: no),
    # 86.40625, 88.046875 (46.8: yes), and 89.6875 − 88.046875 ≤ 2% of 88.046875: λ = 88.046875. The curve
    # through the six latencies meets 50 ms at 88.889.
    calls: list[float] = []
    plain = find_peak(curve_probe(calls), 70.0, SearchSettings(tolerance=0.02), "m")
    assert plain.peak_rps == 88.046875 and plain.estimate is None
    calls.clear()
    fitted = find_peak(curve_probe(calls), 70.0, SearchSettings(tolerance=0.02, estimator="fit"), "m")
    assert fitted.peak_rps == pytest.approx(LAMBDA, abs=1e-6)
    assert fitted.estimate is not None and fitted.estimate.kind == "fit90"
    assert [s.rate_rps for s in fitted.steps] == [s.rate_rps for s in plain.steps]  # the same probes


def test_find_peak_without_latencies_keeps_the_bisection() -> None:
    """Steps made without a latency (older callers) leave nothing to fit: the bisection's answer."""
    calls: list[float] = []
    plain = bisect(curve_probe(calls, False), 70.0, SearchSettings(tolerance=0.02), "m")
    found = find_peak(curve_probe([], False), 70.0, SearchSettings(tolerance=0.02, estimator="fit"), "m")
    assert found.peak_rps == plain.peak_rps == 88.046875 and found.estimate is None


def test_a_probe_gives_its_sla_latency_nearest_the_bound_or_none() -> None:
    """What a fitted search reads of a probe (store.judge.sla_latency, the same for the search and the
    analysis): its SLA percentile's latency and bound; +inf when overloaded; None when refused otherwise."""
    # 120 latencies: 100 of 20 ms and 20 of 80 ms; the 95th percentile (the 114th) is 80 ms.
    rows = [measured_row(1, [20.0] * 100 + [80.0] * 20)]
    assert sla_latency(rows, judge(rows, ["a"]), ["a"]) == pytest.approx((80.0, 100.0), rel=1e-3)
    over = [measured_row(1, [20.0] * 120, "invalid", (Reason(Why.OVERLOADED, "overloaded: 9 of 10"),))]
    assert sla_latency(over, judge(over, ["a"]), ["a"]) == (math.inf, 100.0)
    # Stopped early on a certain miss (loadgen.early_stop): its percentile rests on a cut trial; +inf.
    cut = measured_row(1, [20.0] * 100 + [300.0] * 20)
    cut = dataclasses.replace(
        cut, summary=dataclasses.replace(cut.summary, loadgen={"stopped_early": {"tenant": "a"}})
    )
    assert sla_latency([cut], judge([cut], ["a"]), ["a"]) == (math.inf, 100.0)
    errors = Reason(Why.TOO_MANY_ERRORS, "errors: 5% of requests failed")
    failed = [measured_row(1, [20.0] * 120, "invalid", (errors,))]
    assert sla_latency(failed, judge(failed, ["a"]), ["a"]) is None
    # Two tenants: the one nearer its bound, by latency / bound: a 60/100 = 0.6 against b 45/50 = 0.9.
    two = [
        TrialRow(
            1,
            1,
            "t",
            {},
            "valid",
            (),
            TrialSummary(
                {
                    "a": {"sla": "p95 ≤ 100 ms", "sla_met": True, "p95_ms": 60.0},
                    "b": {"sla": "p95 ≤ 50 ms", "sla_met": True, "p95_ms": 45.0},
                }
            ),
        )
    ]
    assert sla_latency(two, judge(two, ["a", "b"]), ["a", "b"]) == (45.0, 50.0)


def _file(tmp_path: Path, search: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(f"name: p\nkind: peak\nmodels: [resnet50]\nsearch: {search}\n")
    return path


def test_the_estimator_setting_is_checked_in_one_line(tmp_path: Path) -> None:
    assert load_experiment(_file(tmp_path, "{estimator: fit}")).search.how == "bisect+fit"
    assert load_experiment(_file(tmp_path, "{method: ramp}")).search.how == "ramp"
    with pytest.raises(ConfigError) as caught:
        load_experiment(_file(tmp_path, "{estimator: fitted}"))
    message = str(caught.value)
    assert "search.estimator: Input should be 'bisect' or 'fit'" in message and "\n" not in message
    with pytest.raises(ConfigError) as caught:
        load_experiment(_file(tmp_path, "{method: ramp, estimator: fit}"))
    message = str(caught.value)
    assert "estimator: fit reads a bisection's probes; it needs method: bisect" in message
    assert "\n" not in message


def test_the_default_estimator_leaves_a_stored_spec_as_it_was(tmp_path: Path) -> None:
    plain = load_experiment(_file(tmp_path, "{tolerance: 0.05}")).model_dump(mode="json")
    assert "estimator" not in plain["search"]
    said = load_experiment(_file(tmp_path, "{tolerance: 0.05, estimator: bisect}")).model_dump(mode="json")
    assert said == plain
    fit = load_experiment(_file(tmp_path, "{tolerance: 0.05, estimator: fit}")).model_dump(mode="json")
    assert fit["search"] == {**plain["search"], "estimator": "fit"}


SLEEP = "synthetic-sleep:service_ms=10"


def test_a_fitted_peak_is_the_curves_lambda_and_says_so(tmp_path: Path) -> None:
    """Through the real lab over fake_server: the sleeper's p95 is 10(1 + 3ρ/(1−ρ)) ms, ρ = r/100, exactly
    the fitted form (a = 10, b = 30, μ = 100). p95 ≤ 100 ms: 3ρ/(1−ρ) = 9, ρ = 3/4, λ = 75 req/s, where
    the bisection stops at 74.375 (its bracket 74.375–76.25: tests/unit/test_kinds.py)."""
    store = Store(tmp_path / "results.db")
    search = {"tolerance": 0.05, "max_probes": 12, "estimator": "fit", "opening": "wide"}
    exp = parse_experiment(
        {"name": "t", "kind": "peak", "models": [SLEEP], "sla": "p95=100ms", "search": search}, "test"
    )
    run_id, _ = run_on(store, exp)
    found = experiment_results(store, run_id).findings
    assert isinstance(found, peak.Findings)
    lam = found.peaks["synthetic-sleep"]
    assert lam.total_rps == pytest.approx(75.0, abs=1e-6) and lam.method == "bisect+fit"
    assert lam.total.kind == "fit90" and lam.total.low <= 75.0 <= lam.total.high
    # Every probe carries its SLA latency as a fraction of the bound: 80 req/s, ρ 0.8: 130 ms, 1.3.
    assert lam.probes[0].offered_rps == {"synthetic-sleep": 80.0}
    assert lam.probes[0].sla_ratio == pytest.approx(1.3)


def test_the_search_hands_on_the_fitted_lambda_the_analysis_reports(tmp_path: Path) -> None:
    """Fig 1 over fake_server with `estimator: fit`: the shared search starts where sharing breaks even
    by the λ the dedicated searches returned, so its first probe shows which λ the search handed on.
    Sleeper: 75 req/s (above). CPU-bound (2 ms on one core): 2(1 + 3ρ/(1−ρ)) = 100 at ρ = 49/52, λ = 500
    · 49/52 = 471.154 (the bisection's 462.5). Equal shares: 1/(0.5/75 + 0.5/471.154) = 129.40 req/s
    in all (128.14 from the bisection's λ)."""
    store = Store(tmp_path / "results.db")
    search = {"tolerance": 0.05, "max_probes": 12, "estimator": "fit", "opening": "wide"}
    fields = {"sla": "p95=100ms", "search": search, "models": [SLEEP, "synthetic-cpu:dim=64"]}
    exp = parse_experiment({"name": "t", "kind": "dedicated-vs-multitenant", **fields}, "test")
    run_id, _ = run_on(store, exp)
    found = experiment_results(store, run_id).findings
    assert {m: p.total_rps for m, p in found.peaks.items()} == pytest.approx(
        {"synthetic-sleep": 75.0, "synthetic-cpu": 471.154}, abs=1e-3
    )
    shared = found.fig1.shared
    assert sum(shared.probes[0].offered_rps.values()) == pytest.approx(129.40, abs=0.01)
    # Shared, the sleeper is the tenant nearest its SLA (its half of r on its own instance: ρ = r/200), so
    # the fit meets 100 ms where its half is 75: 150 req/s in all; Σ r/λ = 75/75 + 75/471.154 = 1.15918,
    # a saving of 1 − 1/1.15918 = 13.73% (the bisection's: 5/37 = 13.51%).
    assert shared.method == "bisect+fit" and shared.total_rps == pytest.approx(150.0, abs=1e-4)
    assert found.fig1.saving == pytest.approx(0.13732, abs=1e-5)


def test_a_slowed_curve_meets_the_bound_lower_than_the_speed_alone_says() -> None:
    """p = 0.2 + 0.1·ρ/(1−ρ), μ 100, bound 1: λ = 100·8/9 = 88.89 (x = (1 − 0.2)/0.1 = 8). At 0.8 of the
    speed: a 0.25, b 0.125, μ 80; x = (1 − 0.25)/0.125 = 6, λ = 80·6/7 = 68.57 — 0.771 of λ, not 0.8."""
    curve = Curve(0.2, 0.1, 100.0, 0.1, 5)
    assert curve.rate_at(1.0) == pytest.approx(800 / 9)
    slow = curve.slowed(0.8)
    assert (slow.a, slow.b, slow.mu) == pytest.approx((0.25, 0.125, 80.0))
    assert slow.rate_at(1.0) == pytest.approx(480 / 7)
    assert slow.latency(480 / 7) == pytest.approx(1.0)
    assert curve.slowed(0.15).rate_at(1.0) is None  # a = 0.2/0.15 > the bound: no rate meets it
