"""λ from every probe of a search, not only its last bracket: the latency-vs-rate curve of a queue,
p(r) = a + b·ρ/(1−ρ) with ρ = r/μ, fitted to every probe's measured SLA-percentile latency (least squares
on log latency, scipy), solved for p(λ) = the SLA's bound, with a 90% interval from a parametric
bootstrap of the residuals. λ never lies above a rate measured infeasible. Falls back to the bisection
answer (the highest feasible rate) when the fit is poor, has fewer than 3 latencies, or meets the bound
only above a probe that was overloaded (capacity, not latency, bounds λ then). Pure: no I/O, seeded.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from perseus.core.interval import Estimate

Vector = NDArray[np.float64]

MIN_POINTS = 3  # three parameters: fewer latencies than that fit any curve exactly, or none
# A probe's percentile varies ±15% run to run on a small host (σ ≈ 0.12 on log latency): the prior spread
# pooled with a fit's own residuals (worth PRIOR_DOF degrees of freedom), so 3 or 4 points that happen
# to lie on a curve do not claim a tight interval.
PRIOR_SIGMA, PRIOR_DOF = 0.12, 2.0
# Residuals wider than this (on log latency, ±40%) are not a queue's curve: probes that disagree with
# any monotone curve, a server that changed speed mid-search. The bisection answer is kept.
MAX_SIGMA = 0.35
# A latency this many times the bound is a queue that grew for as long as the trial ran (its percentile
# says how long the trial was, not where the curve is): read as an overloaded probe, not fitted.
FAR = 10.0
BOOTSTRAP = 200  # refits for the interval: its ends are the 5th and 95th percentiles of their λ
MAX_FAILED = 0.2  # bootstrap refits whose curve meets no rate at the bound, at most (else: too uncertain)
_V_RANGE = (math.log(1e-4), math.log(1e3))  # μ / (highest measured rate) − 1: μ just above, to ~linear
# θ = (a, log b, v): a ≥ 0; b within e^±30 (any unit; never 0 nor overflowing); v = log(μ/top − 1).
_LOWER, _UPPER = np.array([0.0, -30.0, _V_RANGE[0]]), np.array([np.inf, 30.0, _V_RANGE[1]])


@dataclass(frozen=True)
class Point:
    """One probe: the offered rate, its SLA-percentile latency in the bound's unit (+inf: overloaded, its
    latency beyond any bound; None: refused for another reason, nothing to read), and whether it was
    feasible."""

    rate_rps: float
    latency: float | None
    feasible: bool

    @property
    def usable(self) -> bool:
        """A latency measured: a point the curve passes near."""
        return (
            self.rate_rps > 0
            and self.latency is not None
            and math.isfinite(self.latency)
            and self.latency > 0
        )

    def above(self, bound: float) -> bool:
        """Overloaded, or so far above the bound (FAR) that its percentile measures the trial's length
        rather than the curve."""
        return self.rate_rps > 0 and self.latency is not None and self.latency > FAR * bound


@dataclass(frozen=True)
class Curve:
    """p(r) = a + b·ρ/(1−ρ), ρ = r/μ, fitted; `sigma` its residual spread on log latency (NaN when as
    many points as parameters), `points` how many latencies it rests on."""

    a: float
    b: float
    mu: float
    sigma: float
    points: int

    def latency(self, rate: float) -> float:
        rho = rate / self.mu
        return self.a + self.b * rho / (1 - rho) if rho < 1 else math.inf

    def slowed(self, speed: float) -> "Curve":
        """The same queue on a host `speed` times as fast: every service time / speed, so μ × speed and
        every latency at the same utilisation / speed (a and b alike)."""
        return Curve(self.a / speed, self.b / speed, self.mu * speed, self.sigma, self.points)

    def rate_at(self, bound: float) -> float | None:
        """The rate where the curve meets the bound; None when it lies above the bound at every rate."""
        if not (bound > self.a and self.b > 0):
            return None
        x = (bound - self.a) / self.b
        return self.mu * x / (1 + x)


@dataclass(frozen=True)
class Estimated:
    """λ of one search: `estimate` (value and interval), `fitted` whether the curve gave it (else the
    bisection answer, `why` says why), the curve when one was fitted."""

    estimate: Estimate
    fitted: bool
    why: str = ""
    curve: Curve | None = None


def bracket(points: Sequence[Point]) -> tuple[float, float] | None:
    """The bisection answer: the highest feasible rate and the lowest infeasible rate above it (itself when
    none is above); None when no probe was feasible."""
    good = [p.rate_rps for p in points if p.feasible]
    if not good:
        return None
    lo = max(good)
    return lo, min((p.rate_rps for p in points if not p.feasible and p.rate_rps > lo), default=lo)


@dataclass(frozen=True)
class _Data:
    """What a fit reads: the measured latencies (log) at their rates, and the highest of those rates (μ
    lies above it)."""

    rates: Vector
    logs: Vector
    top: float

    def again(self, logs: Vector) -> "_Data":
        return _Data(self.rates, logs, self.top)


def _data(points: Sequence[Point], bound: float | None) -> _Data | None:
    """The latencies a fit reads (with a `bound`, none FAR above it); None with fewer than MIN_POINTS
    distinct rates. An overloaded or refused probe has none: it only caps λ (estimate_peak)."""
    near = [p for p in points if p.usable and (bound is None or _fitted(p, bound))]
    if len({p.rate_rps for p in near}) < MIN_POINTS:
        return None
    rates = np.array([p.rate_rps for p in near])
    logs = np.log([float(p.latency or 0.0) for p in near])
    return _Data(rates, logs, float(rates.max()))


def _model(theta: Vector, rates: Vector, top: float) -> tuple[Vector, Vector]:
    """Log latency at each rate (below μ) and its Jacobian, for θ = (a, log b, log(μ/top − 1))."""
    a, b, mu = theta[0], math.exp(theta[1]), top * (1 + math.exp(theta[2]))
    x = rates / (mu - rates)
    m = a + b * x
    jac = np.column_stack([1 / m, b * x / m, -b * rates / (mu - rates) ** 2 * (mu - top) / m])
    return np.log(m), jac


def _residuals(theta: Vector, data: _Data) -> tuple[Vector, Vector]:
    """Each measured latency's distance from the curve on log latency, and their Jacobian."""
    logm, jac = _model(theta, data.rates, data.top)
    return logm - data.logs, jac


def _start(data: _Data) -> Vector | None:
    """A starting point: over a grid of μ, (a, b) by least squares weighted as log residuals are
    (relative), a ≥ 0; the μ whose curve lies closest to the measured latencies."""
    rates, logs, top = data.rates, data.logs, data.top
    best: tuple[float, Vector] | None = None
    lat = np.exp(logs)
    for v in np.linspace(*_V_RANGE, 28):
        x = rates / (top * (1 + math.exp(v)) - rates)
        w = 1 / lat
        design = np.column_stack([w, x * w])
        (a, b), *_ = np.linalg.lstsq(design, np.ones_like(lat), rcond=None)
        if a < 0:
            a = 0.0
            b = float(np.sum(x * w) / np.sum((x * w) ** 2))
        if not b > 0:
            continue
        theta = np.clip(np.array([a, math.log(b), v]), _LOWER, _UPPER)
        miss = float(np.sum(_residuals(theta, data)[0] ** 2))
        if best is None or miss < best[0]:
            best = (miss, theta)
    return None if best is None else best[1]


def _refine(theta: Vector, data: _Data) -> Vector | None:
    """Least squares from θ (kept strictly inside the bounds the solver is given)."""
    inside = np.clip(theta, _LOWER + 1e-9, _UPPER - 1e-9)
    try:
        result = least_squares(
            lambda t: _residuals(t, data)[0],
            inside,
            jac=lambda t: _residuals(t, data)[1],
            bounds=(_LOWER, _UPPER),
            method="trf",
        )
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # residuals not finite: no curve
        return None
    return result.x if result.success and np.all(np.isfinite(result.x)) else None


def _curve(theta: Vector, top: float, sigma: float, points: int) -> Curve:
    return Curve(float(theta[0]), math.exp(theta[1]), top * (1 + math.exp(theta[2])), sigma, points)


def fit_curve(points: Sequence[Point], bound: float | None = None) -> Curve | None:
    """The queue's curve through the probes' latencies (least squares on log latency; with a `bound`,
    those FAR above it left out); None with fewer than MIN_POINTS distinct rates measured, or when no
    curve of that form fits at all."""
    data = _data(points, bound)
    if data is None:
        return None
    theta = _start(data)
    theta = None if theta is None else _refine(theta, data)
    if theta is None:
        return None
    miss = float(np.sum(_residuals(theta, data)[0] ** 2))
    dof = data.rates.size - MIN_POINTS
    return _curve(theta, data.top, math.sqrt(miss / dof) if dof > 0 else math.nan, data.rates.size)


def estimate_peak(
    points: Sequence[Point], bound: float, samples: int = BOOTSTRAP, seed: int = 0
) -> Estimated | None:
    """λ from every probe: the fitted curve's rate at `bound`, never above the lowest rate measured
    infeasible, with the 5th–95th percentiles of `samples` bootstrap refits as its interval. The
    bisection answer (highest feasible rate, its bracket) when the fit is poor, or when the curve meets
    the bound only above a probe that had no latency to fit (overloaded, refused) or above every probe
    (none infeasible: nothing measured bounds it). None when no probe was feasible."""
    found = bracket(points)
    if found is None:
        return None
    lo, hi = found
    fallback = Estimate(lo, lo, hi)
    cap = min((p.rate_rps for p in points if not p.feasible), default=lo)  # nothing measured above lo

    def keep(why: str, curve: Curve | None = None) -> Estimated:
        return Estimated(fallback, False, why, curve)

    curve = fit_curve(points, bound)
    if curve is None:
        return keep(f"fewer than {MIN_POINTS} probes with a latency, or no curve fits")
    if curve.sigma > MAX_SIGMA:
        return keep(f"the curve misses the probes by ±{curve.sigma:.0%} (log sd)", curve)
    value = curve.rate_at(bound)
    if value is None or not value > 0:
        return keep("the fitted curve lies above the bound at every rate", curve)
    capping = [p for p in points if not p.feasible and p.rate_rps == cap]
    if value >= cap and not capping:
        return keep("the curve meets the bound above every probe: nothing measured bounds it", curve)
    if value >= cap and not any(_fitted(p, bound) for p in capping):
        # The server stopped keeping up (or the probe was refused) below where the latency meets the
        # bound: capacity, not the latency curve, bounds λ there, and the bracket says all that is known.
        return keep("the curve meets the bound only above a probe that was overloaded or refused", curve)
    spread = _spread(curve)
    found_rates = _bootstrap(points, curve, bound, spread, samples, seed)
    if found_rates is None:
        return keep("the bootstrap's curves often meet no rate at the bound: too uncertain", curve)
    # λ itself never lies above a rate measured infeasible. Its interval may lie above one that missed the
    # SLA by its latency (as noisy as the others': a bisection's last bracket misses λ that way ~⅓ of the
    # time), never above one that was overloaded or refused: no latency curve goes on past those.
    value = min(value, cap)
    wall = min((p.rate_rps for p in points if not p.feasible and not _fitted(p, bound)), default=math.inf)
    low, high = (min(float(np.percentile(found_rates, q)), wall) for q in (5, 95))
    return Estimated(Estimate(value, min(low, value), max(high, value), fitted=True), True, "", curve)


def _fitted(point: Point, bound: float) -> bool:
    """A latency the curve was fitted to (not overloaded, refused, or FAR above the bound)."""
    return point.usable and not point.above(bound)


def _spread(curve: Curve) -> float:
    """The residual spread the bootstrap draws: the fit's own pooled with the host's prior."""
    dof = curve.points - MIN_POINTS
    own = 0.0 if math.isnan(curve.sigma) else curve.sigma**2 * dof
    return math.sqrt((own + PRIOR_DOF * PRIOR_SIGMA**2) / (dof + PRIOR_DOF))


def _bootstrap(
    points: Sequence[Point], curve: Curve, bound: float, spread: float, samples: int, seed: int
) -> Vector | None:
    """λ of `samples` refits to the fitted curve plus log-normal noise of `spread` at each measured rate
    (a parametric bootstrap of the residuals); None when too many refits meet no rate at the bound."""
    data = _data(points, bound)
    assert data is not None  # the curve was fitted to it
    theta = np.array([curve.a, math.log(curve.b), math.log(curve.mu / data.top - 1)])
    centre = _model(theta, data.rates, data.top)[0]
    noise = np.random.default_rng(seed).normal(0.0, spread, (samples, data.rates.size))
    fits = _refit_all(theta, data, centre + noise)
    found = []
    for again in fits:
        rate = (
            _curve(again, data.top, math.nan, curve.points).rate_at(bound)
            if np.all(np.isfinite(again))
            else None
        )
        if rate is not None and rate > 0:
            found.append(rate)
    if samples and len(found) < (1 - MAX_FAILED) * samples:
        return None
    return np.array(found) if found else np.array([curve.rate_at(bound) or 0.0])


def _refit_all(theta: Vector, data: _Data, logs: Vector, steps: int = 40) -> Vector:
    """Least squares of many sets of log latencies at once (one row each), every one from θ: a damped
    Gauss-Newton (Levenberg-Marquardt) step for all rows per iteration, kept within the bounds. The
    bootstrap's refits start at the optimum of data alike, so they converge in a few steps; one at a time
    through scipy they took 0.7 ms each."""
    rows = logs.shape[0]
    fits = np.tile(np.clip(theta, _LOWER, _UPPER), (rows, 1))

    def evaluate(at: Vector) -> tuple[Vector, Vector, Vector]:
        a, b = at[:, :1], np.exp(at[:, 1:2])
        mu = data.top * (1 + np.exp(at[:, 2:3]))
        x = data.rates / (mu - data.rates)
        m = a + b * x
        miss = np.log(m) - logs
        jac = np.stack([1 / m, b * x / m, -b * data.rates / (mu - data.rates) ** 2 * (mu - data.top) / m], 2)
        return miss, jac, np.sum(miss**2, axis=1)

    miss, jac, cost = evaluate(fits)
    damping = np.full(rows, 1e-3)
    eye = np.eye(3)
    for _ in range(steps):
        normal = np.einsum("rni,rnj->rij", jac, jac)
        gradient = np.einsum("rni,rn->ri", jac, miss)
        scale = np.einsum("rii->ri", normal)[:, :, None] * eye + 1e-12 * eye
        damped = normal + damping[:, None, None] * scale
        try:
            step = np.linalg.solve(damped, -gradient[:, :, None])
        except np.linalg.LinAlgError:  # a row whose Jacobian lost rank: its least step instead
            step = np.linalg.pinv(damped) @ -gradient[:, :, None]
        trial = np.clip(fits + step[:, :, 0], _LOWER, _UPPER)
        moved = evaluate(trial)
        better = np.isfinite(moved[2]) & (moved[2] < cost)
        for kept, new in zip((fits, miss, jac, cost), (trial, *moved), strict=True):
            kept[better] = new[better]
        damping = np.where(better, damping / 3, damping * 4)
        if np.all(damping > 1e8):
            break
    return fits
