"""A measured figure with its interval (λ, a saving, $ per 1M inferences) and how it was made, and how
λ's interval follows from its searches: one search gives its bracket, K independent searches a 90%
t-interval on log λ (a rate's spread is relative, and an interval of a positive rate stays positive).
"""

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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


# How an interval was made, as reports name it: `exact` (none: a figure taken as given), `bracket` (one
# search's highest feasible to lowest infeasible rate: its resolution, not run-to-run spread), `t90` (a
# 90% t-interval over K ≥ 2 searches, or interval arithmetic over such parts), `min-max` (the range of K
# measurements, e.g. a merged profile's λ: no confidence level at all), `fit90` (one search's 90% interval
# from the latency curve fitted to its probes, core.estimate: its noise, not run-to-run spread).
IntervalKind = Literal["exact", "bracket", "t90", "min-max", "fit90"]


@dataclass(frozen=True)
class Estimate:
    """A value and the interval it is known within. `searches` says how many independent searches it
    rests on: 1, one search's bracket; K ≥ 2, the spread of K searches; 0, none (a figure taken as
    given). `min_max`: the interval is the range of the measurements, not a 90% interval; `fitted`: one
    search's λ and interval from the curve fitted to its probes (core.estimate), not its bracket."""

    value: float
    low: float
    high: float
    searches: int = 1
    min_max: bool = False
    fitted: bool = False

    @classmethod
    def exact(cls, value: float) -> "Estimate":
        """A figure taken as given (a rate a trial offered, a price): no interval of its own."""
        return cls(value, value, value, searches=0)

    @property
    def kind(self) -> IntervalKind:
        if self.searches == 0:
            return "exact"
        if self.min_max:
            return "min-max"
        if self.fitted and self.searches == 1:
            return "fit90"
        return "bracket" if self.searches == 1 else "t90"

    def spans_zero(self) -> bool:
        """The interval holds 0 (or touches it): the sign of the figure is not established."""
        return self.low <= 0.0 <= self.high

    def scaled(self, factor: float) -> "Estimate":
        """This figure times a factor ≥ 0 (one tenant's share of a searched total)."""
        return Estimate(
            self.value * factor,
            self.low * factor,
            self.high * factor,
            self.searches,
            self.min_max,
            self.fitted,
        )

    def map_decreasing(self, f: Callable[[float], float]) -> "Estimate":
        """f of this figure, for f decreasing (e.g. $ per inference of a throughput): the ends swap."""
        return Estimate(f(self.value), f(self.high), f(self.low), self.searches, self.min_max, self.fitted)

    def json(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def centre(rates: Iterable[float]) -> float:
    """The centre of K measured rates: their geometric mean (the centre of their t-interval on log λ), or
    the arithmetic mean when one is not positive (no log of it)."""
    found = list(rates)
    if found and min(found) > 0:
        return math.exp(statistics.fmean(math.log(r) for r in found))
    return statistics.fmean(found)


def of_searches(brackets: Sequence[tuple[float, float]]) -> Estimate:
    """λ from independent searches, each its bracket (highest feasible rate, lowest infeasible above it).

    One search: λ is its highest feasible rate, known to lie below the lowest infeasible one. K ≥ 2: the
    90% t-interval of log λ over their feasible rates, back-transformed: λ is their geometric mean, the
    interval goes down from it by the t-factor and up from the geometric mean of the highs by the same
    factor (each search only brackets its own λ). On the log scale a host's ±15% is one spread whatever
    λ is, and the interval stays positive however far two searches differ (the arithmetic one of 40 and
    60 req/s went down to −13). A search whose λ is not positive (none is, from a search) falls back to
    the range of them all."""
    if not brackets:
        raise ValueError("no search to estimate from")
    lows = [lo for lo, _ in brackets]
    highs = [max(lo, hi) for lo, hi in brackets]
    if len(brackets) == 1:
        return Estimate(lows[0], lows[0], highs[0])
    if min(lows) <= 0:
        return Estimate(statistics.fmean(lows), min(lows), max(highs), len(lows), min_max=True)
    logs = [math.log(lo) for lo in lows]
    half = t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    mean_log = statistics.fmean(logs)
    high_log = max(mean_log, statistics.fmean(math.log(hi) for hi in highs))
    return Estimate(math.exp(mean_log), math.exp(mean_log - half), math.exp(high_log + half), len(lows))


def searches_of(parts: Sequence[Estimate]) -> int:
    """How many independent searches the weakest measured part rests on (what a derived figure may claim);
    parts taken as given do not count."""
    return min((p.searches for p in parts if p.searches > 0), default=0)
