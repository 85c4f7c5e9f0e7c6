"""Saving and $ per inference, checked against hand-computed cases."""

import pytest

from perseus.core.errors import ConfigError
from perseus.cost import Alone, best_alone, cost_per_million_usd, saving_against, sharing_saving


def test_cost_per_million() -> None:
    # $3.60/h at 100 req/s = $0.001 per 100 inferences = $10 per 1M.
    assert cost_per_million_usd(3.6, 100.0) == pytest.approx(10.0)


def test_saving_hand_computed() -> None:
    # r_A/λ_A + r_B/λ_B = 30/50 + 40/80 = 1.1 → 1 − 1/1.1 = 0.0909…
    assert sharing_saving({"a": 30, "b": 40}, {"a": 50, "b": 80}) == pytest.approx(1 / 11)


def test_saving_negative_when_sharing_loses() -> None:
    # 20/50 + 20/80 = 0.65 of a machine's worth of work: sharing costs 1/0.65 − 1 more.
    assert sharing_saving({"a": 20, "b": 20}, {"a": 50, "b": 80}) == pytest.approx(1 - 1 / 0.65)


def test_saving_zero_at_the_dedicated_line() -> None:
    assert sharing_saving({"a": 25, "b": 40}, {"a": 50, "b": 80}) == pytest.approx(0.0)


def test_missing_peak_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no dedicated peak for b"):
        sharing_saving({"a": 1, "b": 1}, {"a": 2})


def test_cost_needs_positive_throughput() -> None:
    with pytest.raises(ConfigError):
        cost_per_million_usd(1.0, 0.0)


def test_best_alone_is_each_models_highest_peak_over_every_setting() -> None:
    one, two = {"instances": 1}, {"instances": 2}
    measured = [
        Alone("a", 180.0, one),
        Alone("b", 187.6, one),
        Alone("a", 309.2, two),
        Alone("b", 187.6, two),
    ]
    best = best_alone(measured)
    assert best == {"a": Alone("a", 309.2, two), "b": Alone("b", 187.6, one)}  # a tie keeps the first
    # 154.9/309.2 + 154.9/187.6 = 1.3267 machines; against the 1-instance peaks it would be 1.6862.
    assert saving_against({"a": 154.9, "b": 154.9}, best) == pytest.approx(
        1 - 1 / (154.9 / 309.2 + 154.9 / 187.6)
    )
    assert best_alone([]) == {}
