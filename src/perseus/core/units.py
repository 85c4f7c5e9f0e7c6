"""Unit conversions and parsing of human quantities: durations ("750ms", "2s") and per-model request
rates ("resnet50=40")."""

import math
import re
from collections.abc import Iterable

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


def parse_model_rates(entries: Iterable[str], flag: str) -> dict[str, float]:
    """`MODEL=REQ_PER_S` entries → request rate by model. A bad entry (no `=`, no model, a rate that is not
    a positive finite number) or a model named twice is a ConfigError naming `flag` and the entry."""
    rates: dict[str, float] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        name = name.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not sep or not name or not 0 < rate < math.inf:
            raise ConfigError(f"{flag} {entry!r} must be MODEL=REQ_PER_S with a positive rate")
        if name in rates:
            raise ConfigError(f"{flag} {entry!r}: {name!r} already has a rate")
        rates[name] = rate
    return rates
