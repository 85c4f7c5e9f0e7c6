"""Intervals at their edges, each value worked by hand: what mutation testing (benchmarks/mutants.py,
docs/mutants.md) found no other unit test pinned."""

import math

import pytest

from perseus.core.interval import Estimate, centre, of_searches, searches_of, t95


def test_an_interval_touching_zero_spans_it() -> None:
    assert Estimate(1.0, 0.0, 2.0).spans_zero()  # low = 0: the sign is not established
    assert Estimate(-1.0, -2.0, 0.0).spans_zero()  # high = 0 likewise
    assert not Estimate(1.0, 0.5, 2.0).spans_zero()
    assert not Estimate(-1.0, -2.0, -0.5).spans_zero()


def test_the_centre_is_geometric_for_positive_rates_else_arithmetic() -> None:
    assert centre([0.5, 2.0]) == pytest.approx(1.0)  # √(0.5 × 2); the arithmetic mean would be 1.25
    assert centre([4.0, 9.0]) == pytest.approx(6.0)  # √36
    assert centre([0.0, 4.0]) == 2.0  # a 0 has no log: (0 + 4) / 2
    assert centre([-2.0, 4.0]) == 1.0


def test_an_estimate_as_json_names_its_ends() -> None:
    assert Estimate(2.0, 1.0, 3.0).json() == {"value": 2.0, "low": 1.0, "high": 3.0}


def test_the_t_quantiles_at_the_table_edges() -> None:
    assert t95(1) == 6.314 and t95(2) == 2.920 and t95(29) == 1.699 and t95(30) == 1.697
    assert t95(31) == 1.645  # past the table: the normal's


def test_searches_with_a_rate_of_zero_fall_back_to_their_range() -> None:
    found = of_searches([(0.0, 10.0), (20.0, 25.0)])
    assert found == Estimate(10.0, 0.0, 25.0, 2, min_max=True)  # mean of 0 and 20; min low; max high
    assert found.kind == "min-max"


def test_two_searches_hand_worked() -> None:
    # logs of 100 and 400: mean ln 200, sample stdev (ln 4)/√2; half = 6.314 × (ln 4)/√2 / √2 = 3.157 ln 4.
    found = of_searches([(100.0, 110.0), (400.0, 440.0)])
    half = 6.314 * math.log(4.0) / 2.0
    assert found.value == pytest.approx(200.0)
    assert found.low == pytest.approx(200.0 * math.exp(-half))
    assert found.high == pytest.approx(220.0 * math.exp(half))  # from the highs' geometric mean √(110 × 440)
    # a high below its low is taken as the low itself
    assert of_searches([(50.0, 40.0)]) == Estimate(50.0, 50.0, 50.0, 1)


def test_a_derived_figure_claims_its_weakest_measured_part() -> None:
    parts = [Estimate(1.0, 1.0, 1.0, 3), Estimate.exact(2.0), Estimate(1.0, 0.5, 1.5, 2)]
    assert searches_of(parts) == 2
    assert searches_of([Estimate.exact(2.0)]) == 0


def test_scaling_and_a_decreasing_map_keep_the_basis() -> None:
    lam = Estimate(100.0, 80.0, 120.0, 3, min_max=True)
    assert lam.scaled(0.5) == Estimate(50.0, 40.0, 60.0, 3, min_max=True)
    assert lam.map_decreasing(lambda x: 1000.0 / x) == Estimate(10.0, 1000.0 / 120.0, 12.5, 3, min_max=True)


def test_no_search_is_refused_and_one_search_counts() -> None:
    with pytest.raises(ValueError, match=r"^no search to estimate from$"):
        of_searches([])
    # One search's figure (1) is weaker than three's: the derived figure claims 1.
    assert searches_of([Estimate(1.0, 0.9, 1.1, 1), Estimate(1.0, 0.9, 1.1, 3)]) == 1
    assert searches_of([]) == 0
