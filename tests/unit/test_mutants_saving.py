"""The saving and $ per inference at their edges, each value worked by hand: what mutation testing
(benchmarks/mutants.py, docs/mutants.md) found no other unit test pinned."""

import math

import pytest

from perseus.core.errors import ConfigError
from perseus.core.interval import Estimate
from perseus.cost.saving import Alone, best_alone, cost_per_million_usd, saving_interval, sharing_saving


def test_cost_per_million_hand_worked() -> None:
    # $0.36/h at 100 req/s: 360,000 inferences an hour, so $1 per million.
    assert cost_per_million_usd(0.36, 100.0) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match=r"^throughput must be > 0 to price an inference$"):
        cost_per_million_usd(0.36, 0.0)


def test_sharing_saving_hand_worked_and_its_refusals() -> None:
    # Σ r/λ = 30/60 + 0.25/0.5 = 1 machine's worth: saves 0; at 60/60 + 0.5/0.5 = 2: saves 1 − 1/2.
    assert sharing_saving({"a": 30.0, "b": 0.25}, {"a": 60.0, "b": 0.5}) == 0.0
    assert sharing_saving({"a": 60.0, "b": 0.5}, {"a": 60.0, "b": 0.5}) == 0.5
    with pytest.raises(ConfigError, match=r"^no dedicated peak for b, c$"):
        sharing_saving({"a": 1.0, "c": 1.0, "b": 1.0}, {"a": 2.0})
    with pytest.raises(ConfigError, match=r"^dedicated peaks must be > 0$"):
        sharing_saving({"a": 1.0}, {"a": 0.0})
    with pytest.raises(ConfigError, match=r"^the shared rates must not all be 0$"):
        sharing_saving({"a": 0.0, "b": 0.0}, {"a": 2.0, "b": 3.0})


def test_the_best_alone_is_the_highest_lambda_and_the_first_of_equals() -> None:
    first, same = Alone("a", 50.0, {"instances": 1}), Alone("a", 50.0, {"instances": 2})
    lower = Alone("a", 40.0, {})
    assert best_alone([lower, first, same])["a"] is first


def test_saving_interval_hand_worked() -> None:
    # rates a 30 (25..35) against λ_a 60 (50..70): machines 0.5, ends 25/70 and 35/50 — all under 1.
    rates = {"a": Estimate(30.0, 25.0, 35.0, 2), "b": Estimate.exact(30.0)}
    against = {"a": Alone("a", 60.0, {}, Estimate(60.0, 50.0, 70.0, 3)), "b": Alone("b", 30.0, {})}
    found = saving_interval(rates, against)
    # value: 30/60 + 30/30 = 1.5 → 1 − 1/1.5 = 1/3; low: 25/70 + 1 → 1 − 70/95; high: 35/50 + 1 → 1 − 1/1.7.
    assert found.value == pytest.approx(1 / 3)
    assert found.low == pytest.approx(1 - 70 / 95)
    assert found.high == pytest.approx(1 - 1 / 1.7)
    assert found.searches == 2 and not found.min_max


def test_saving_interval_ends_with_zero_peaks_or_rates_or_no_peak() -> None:
    zero_peak = {"a": Alone("a", 10.0, {}, Estimate(10.0, 0.0, 20.0, 2))}
    found = saving_interval({"a": Estimate.exact(10.0)}, zero_peak)
    assert found.value == 0.0 and found.high == 1.0  # the high end's peak is 0: it saves all
    assert found.low == -1.0  # the low end takes the peak's high: 10/20 = 0.5 machines, 1 − 1/0.5
    nothing = saving_interval({"a": Estimate(0.0, 0.0, 0.0, 2)}, {"a": Alone("a", 10.0, {})})
    assert nothing.value == -math.inf
    assert math.isnan(saving_interval({"b": Estimate.exact(1.0)}, {"a": Alone("a", 10.0, {})}).value)


def test_saving_interval_skips_a_rate_of_zero_and_prices_a_peak_under_one() -> None:
    # b offers nothing and has no dedicated peak worth the name: it adds no machine. a: 10 / 20 = 0.5.
    found = saving_interval(
        {"a": Estimate.exact(10.0), "b": Estimate.exact(0.0)},
        {"a": Alone("a", 20.0, {}), "b": Alone("b", 0.0, {})},
    )
    assert found.value == -1.0  # 1 − 1/0.5
    # Rates and peaks below 1 req/s are rates like any other: 0.5 / 0.25 = 2 machines, saves 1/2.
    small = saving_interval({"a": Estimate.exact(0.5)}, {"a": Alone("a", 0.25, {})})
    assert small.value == 0.5
