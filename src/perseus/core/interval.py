"""A measured figure with its interval (λ, a saving, $ per 1M inferences), and how λ's interval follows
from its searches: one search gives its bracket, K independent searches a 90% t-interval around their mean.
"""

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Student's t, 95th percentile (a two-sided 90% interval), by degrees of freedom 1..30; above, the normal's.
_T95 = (
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
    1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
    1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
)  # fmt: skip
_Z95 = 1.645


def t95(degrees: int) -> float:
    """The t quantile a two-sided 90% interval uses with this many degrees of freedom (≥ 1)."""
    return _T95[degrees - 1] if degrees <= len(_T95) else _Z95


@dataclass(frozen=True)
class Estimate:
    """A value and the interval it is known within. `searches` says where the interval comes from: 1, the
    one search's bracket (its resolution, not run-to-run spread); K ≥ 2, the spread of K searches; 0, none
    (a figure taken as given)."""

    value: float
    low: float
    high: float
    searches: int = 1

    @classmethod
    def exact(cls, value: float) -> "Estimate":
        """A figure taken as given (a rate a trial offered, a price): no interval of its own."""
        return cls(value, value, value, searches=0)

    def spans_zero(self) -> bool:
        """The interval holds 0 (or touches it): the sign of the figure is not established."""
        return self.low <= 0.0 <= self.high

    def scaled(self, factor: float) -> "Estimate":
        """This figure times a factor ≥ 0 (one tenant's share of a searched total)."""
        return Estimate(self.value * factor, self.low * factor, self.high * factor, self.searches)

    def map_decreasing(self, f: Callable[[float], float]) -> "Estimate":
        """f of this figure, for f decreasing (e.g. $ per inference of a throughput): the ends swap."""
        return Estimate(f(self.value), f(self.high), f(self.low), self.searches)

    def json(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def of_searches(brackets: Sequence[tuple[float, float]]) -> Estimate:
    """λ from independent searches, each its bracket (highest feasible rate, lowest infeasible above it).

    One search: λ is its highest feasible rate, known to lie below the lowest infeasible one. K ≥ 2: λ is
    the mean of their feasible rates, the interval the mean's 90% t-interval, widened downward from the
    mean of the lows and upward from the mean of the highs (each search only brackets its own λ)."""
    if not brackets:
        raise ValueError("no search to estimate from")
    lows = [lo for lo, _ in brackets]
    highs = [max(lo, hi) for lo, hi in brackets]
    if len(brackets) == 1:
        return Estimate(lows[0], lows[0], highs[0])
    half = t95(len(lows) - 1) * statistics.stdev(lows) / math.sqrt(len(lows))
    mean_low = statistics.fmean(lows)
    return Estimate(mean_low, mean_low - half, statistics.fmean(highs) + half, len(lows))


def searches_of(parts: Sequence[Estimate]) -> int:
    """How many independent searches the weakest measured part rests on (what a derived figure may claim);
    parts taken as given do not count."""
    return min((p.searches for p in parts if p.searches > 0), default=0)
