"""Unit conversions and parsing of human durations ("750ms", "2s")."""

import re

from perseus.core.errors import ConfigError

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s|m|min)?\s*$")
_FACTOR_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
}


def parse_duration_ns(text: str, default_unit: str = "s") -> int:
    """Parse "750ms", "2s", "1.5" (default unit) into integer nanoseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"cannot read duration {text!r}: expected a number with a unit such as 750ms or 2s")
    value, unit = float(match.group(1)), match.group(2) or default_unit
    return round(value * _FACTOR_NS[unit])


def ns_to_ms(value_ns: float) -> float:
    return value_ns / NS_PER_MS


def ns_to_s(value_ns: float) -> float:
    return value_ns / NS_PER_S
