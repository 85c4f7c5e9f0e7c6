"""Parsing of human durations and per-model rates."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.core.errors import ConfigError
from perseus.core.units import parse_duration_ns, parse_model_rates


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("750ms", 750_000_000),
        ("2s", 2_000_000_000),
        ("1.5", 1_500_000_000),
        ("250us", 250_000),
        ("1m", 60_000_000_000),
    ],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["", "fast", "-1s", "10 parsecs"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(ConfigError, match="cannot read duration"):
        parse_duration_ns(text)


@given(st.integers(min_value=0, max_value=10**7))
def test_ms_round_trip(ms: int) -> None:
    assert parse_duration_ns(f"{ms}ms") == ms * 1_000_000


def test_parse_model_rates() -> None:
    assert parse_model_rates(["a=40", " b = 1.5"], "--mix") == {"a": 40.0, "b": 1.5}
    assert parse_model_rates([], "--peak") == {}


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("a", "--peak 'a' must be MODEL=REQ_PER_S"),
        ("=3", "--peak '=3' must be"),
        ("a=x", "--peak 'a=x' must be"),
        ("a=0", "positive rate"),
        ("a=-2", "positive rate"),
        ("a=nan", "positive rate"),
        ("a=inf", "positive rate"),
    ],
)
def test_bad_model_rate_names_the_flag_and_entry(entry: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_model_rates([entry], "--peak")


def test_a_model_given_two_rates_is_refused() -> None:
    with pytest.raises(ConfigError, match="--mix 'a=2': 'a' already has a rate"):
        parse_model_rates(["a=1", "a=2"], "--mix")


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True), st.floats(1e-3, 1e6)))
def test_model_rates_round_trip(rates: dict[str, float]) -> None:
    assert parse_model_rates([f"{name}={rate!r}" for name, rate in rates.items()], "--mix") == rates
