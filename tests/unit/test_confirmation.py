"""A figure chosen as the best of several noisy ones leans high; measured again after the choice, it does
not. Simulated with the frontier kind's own choice and headline rules: a true saving of 0, four points
each measured with the run-to-run noise seen here (9–18.5%: benchmarks/profile_repeatability.py)."""

import random

from perseus.core.interval import Estimate
from perseus.experiments.frontier import AT_SHARE, Direction, Fig2, FrontierPoint, chosen

RUNS = 1000
DIRECTIONS: list[Direction] = [0.25, 0.5, 0.75, AT_SHARE]


def _measure(rng: random.Random, spread: float) -> float:
    """Σ r/λ of a point whose true value is 1 (sharing saves nothing), as one noisy search finds it."""
    return rng.lognormvariate(0.0, spread)


def _point(work: float, direction: Direction, source: str) -> FrontierPoint:
    saving = 1 - 1 / work
    return FrontierPoint({"a": 1.0, "b": 1.0}, Estimate(saving, saving, saving), source, direction)


def _headlines(seed: int) -> tuple[float, float]:
    """(the headline with a confirmation, the best point's saving as reported before confirmations)."""
    rng = random.Random(seed)
    spreads = {d: rng.uniform(0.09, 0.185) for d in DIRECTIONS}
    measured = {d: _measure(rng, spreads[d]) for d in DIRECTIONS}
    pick = chosen(measured)
    points = [_point(measured[d], d, "measured") for d in DIRECTIONS]
    best = next(p for p in points if p.direction == pick)
    # The chosen direction searched again on a fresh server: a new draw of the same noise.
    confirmed = _point(_measure(rng, spreads[pick]), pick, "confirmed")
    fig2 = Fig2(("a", "b"), {}, points, best, confirmed)
    return fig2.max_saving, fig2.best.saving


def test_a_confirmed_headline_of_a_zero_saving_is_positive_about_half_the_time() -> None:
    found = [_headlines(seed) for seed in range(RUNS)]
    confirmed = sum(1 for headline, _ in found if headline > 0) / RUNS
    selected = sum(1 for _, best in found if best > 0) / RUNS
    assert confirmed <= 0.60  # unbiased: about 0.5
    assert selected >= 0.85  # the best of four alone: what the headline was (~94%): the test can tell


def test_the_headline_is_the_chosen_point_when_no_confirmation_was_stored() -> None:
    points = [_point(w, d, "measured") for w, d in zip([1.05, 0.97], [0.5, AT_SHARE], strict=True)]
    fig2 = Fig2(("a", "b"), {}, points, points[0])
    assert fig2.headline is points[0] and fig2.max_saving == points[0].saving
