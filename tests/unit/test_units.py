"""Parsing of human durations."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.core.errors import ConfigError
from perseus.core.units import parse_duration_ns


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
