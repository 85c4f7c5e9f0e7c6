"""Savings along a measured frontier of feasible (r_A, r_B) pairs (paper Fig 2): per point, and fitted.
The dedicated peaks come from the user or the file; a saving is only as good as they are, so where each
came from is kept to be said."""

import math
from dataclasses import dataclass

import numpy as np

from perseus.config.frontier import Frontier
from perseus.core.errors import ConfigError
from perseus.cost.saving import sharing_saving


@dataclass(frozen=True)
class FrontierSavings:
    models: tuple[str, str]
    peaks: dict[str, float]
    peaks_from: dict[str, str]  # per model: GIVEN (--peak) or FROM_FILE (its row where the other is 0)
    points: list[tuple[float, float, float]]  # (r_A, r_B, saving)
    max_saving: float
    fit_max_saving: float | None = None
    fit_at: tuple[float, float] | None = None  # the (r_A, r_B) on the fitted curve where it peaks


GIVEN, FROM_FILE = "--peak", "frontier"


def dedicated_peaks(frontier: Frontier, given: dict[str, float]) -> dict[str, float]:
    """λ of each model: given on the command line, else the best rate in rows where the other is 0."""
    unknown = sorted(set(given) - set(frontier.models))
    if unknown:
        raise ConfigError(
            f"--peak names {', '.join(unknown)}, not in the frontier's header {frontier.models}"
        )
    peaks: dict[str, float] = {}
    for index, model in enumerate(frontier.models):
        if model in given:
            peaks[model] = given[model]
            continue
        alone = [p[index] for p in frontier.points if p[1 - index] == 0]
        if not alone:
            raise ConfigError(
                f"no dedicated point for {model}: add a row where the other rate is 0, "
                f"or give --peak {model}=REQ_PER_S"
            )
        peaks[model] = max(alone)
    if any(value <= 0 for value in peaks.values()):
        raise ConfigError(f"dedicated peaks must be > 0, got {peaks}")
    return peaks


def _quadratic_max(
    points: list[tuple[float, float]], peaks: dict[str, float], models: tuple[str, str]
) -> tuple[float, tuple[float, float]]:
    """Fit r_B = c0 + c1 r_A + c2 r_A² by least squares; the best saving along it over 0 ≤ r_A ≤ max r_A.

    A dense grid plus the curve's analytic stationary point: the saving is monotone in
    r_A/λ_A + r_B/λ_B, whose derivative c1/λ_B + 2 c2 r_A/λ_B + 1/λ_A vanishes there.
    """
    if len({p[0] for p in points}) < 3:
        raise ConfigError("--fit quadratic needs at least 3 distinct r_A values")
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    c2, c1, c0 = np.polyfit(xs, ys, 2)
    lam_a, lam_b = peaks[models[0]], peaks[models[1]]
    grid = list(np.linspace(0.0, float(xs.max()), 2001))
    if c2 != 0:
        stationary = -(c1 + lam_b / lam_a) / (2 * c2)
        if 0 <= stationary <= xs.max():
            grid.append(float(stationary))
    best, at = -math.inf, (0.0, 0.0)
    for x in grid:
        y = max(0.0, float(c0 + c1 * x + c2 * x * x))
        if x == 0 and y == 0:
            continue
        saving = sharing_saving({models[0]: x, models[1]: y}, peaks)
        if saving > best:
            best, at = saving, (float(x), y)
    return best, at


def frontier_savings(
    frontier: Frontier, given_peaks: dict[str, float], fit: str | None = None
) -> FrontierSavings:
    peaks = dedicated_peaks(frontier, given_peaks)
    a, b = frontier.models
    points = [(r_a, r_b, sharing_saving({a: r_a, b: r_b}, peaks)) for r_a, r_b in frontier.points]
    source = {m: GIVEN if m in given_peaks else FROM_FILE for m in frontier.models}
    result = FrontierSavings(frontier.models, peaks, source, points, max(p[2] for p in points))
    if fit is None:
        return result
    if fit != "quadratic":
        raise ConfigError(f"--fit must be quadratic, got {fit!r}")
    best, at = _quadratic_max(frontier.points, peaks, frontier.models)
    return FrontierSavings(frontier.models, peaks, source, points, result.max_saving, best, at)
