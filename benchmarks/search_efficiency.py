"""Search efficiency by simulation: how close each way of finding λ comes to the true λ, at equal
measurement time (the same number of probes of the same length).

Simulated servers with known curves — an M/M/1 queue plus a fixed overhead (exactly the fitted form,
p95 = c + S·ln 20/(1−ρ)) and an M/D/1 queue (not of that form: its p95 sojourn is computed exactly with
Erlang's formula) — with the SLA bound set where λ sits at ρ* = 0.5, 0.8 and 0.93 of the server's
capacity μ. Each probe reads the true percentile times log-normal noise (σ = 0.12 per probe, as this
host's ±15% run to run), a probe at ρ ≥ 1 reads as overloaded (+inf, infeasible). The search
starts, as perseus does, at 0.8 of a closed-loop estimate of μ (itself ±5%).

Compared, over many seeded repetitions (deterministic):
  (a) `bisect`: today's bisection (the real `orchestrate.search.bisect`), λ = its highest feasible rate;
  (b) `bisect+fit`: the same probes, λ from the curve fitted to all of them (`core.estimate`);
  (c) `fit-placed`: the same number of probes, bisection until a bracket, then each probe at the fitted
      λ (±4%, alternating), λ from the curve fitted to all of them.
With searches of tolerance 0.05 and at most 8 or 5 probes (the shipped profile's), each opening `wide`
(×2 up / ÷4 down from the start, the search before 2026-12-07) and `near` (the first step ×1.375 /
÷1.375: from 0.8 of the estimate to 1.1 of it), and at budgets of N probes (a tolerance so small that
bisection uses all N); (c) always with as many probes as (a) used. `no cap`: (b) without the
rule that λ never lies above a rate measured infeasible, to show what that rule costs. Printed: median
|error| against the true λ, its 90th percentile, the bias (signed median), the probes used, how often
the interval (a bracket, or the fit's 90%) holds the true λ, and how often the fit fell back to the
bisection answer.

    .venv/bin/python benchmarks/search_efficiency.py [--reps 150] [--sigma 0.12]
"""

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
from scipy.optimize import brentq

from perseus.config.experiment import SearchSettings
from perseus.core.errors import SlaNotMetError
from perseus.core.estimate import BOOTSTRAP, Point, estimate_peak, fit_curve
from perseus.core.interval import Estimate
from perseus.orchestrate.search import Step, bisect

MU = 100.0  # req/s: every simulated server serves 100 req/s at most (S = 10 ms)
S = 1 / MU
OVERHEAD = 0.005  # s: the M/M/1 server's fixed part (network, pre/post-processing)
START = 0.8  # × the closed-loop estimate of μ, as experiments.placements.START_FRACTION


def mm1_p95(rate: float) -> float:
    """p95 sojourn of M/M/1 (exponential, rate μ−λ) plus a fixed overhead, in ms."""
    rho = rate / MU
    return math.inf if rho >= 1 else 1e3 * (OVERHEAD + S * math.log(20) / (1 - rho))


@functools.cache
def _md1_wait_cdf(rho: float, t: float) -> float:
    """P(W ≤ t) of M/D/1 (D = 1), Erlang's formula; its terms alternate, so 60 digits."""
    with mpmath.workdps(60):
        lam = mpmath.mpf(rho)
        total = mpmath.mpf(0)
        for k in range(math.floor(t) + 1):
            u = lam * (k - mpmath.mpf(t))
            total += mpmath.exp(-u) * u**k / mpmath.factorial(k)
        return float((1 - lam) * total)


@functools.cache
def _md1_w95(rho: float) -> float:
    """The 95th percentile of M/D/1's wait, in units of D (0 when ≥ 95% do not wait: P(W=0) = 1−ρ)."""
    if 1 - rho >= 0.95:
        return 0.0
    hi = 1.0
    while _md1_wait_cdf(rho, hi) < 0.95:
        hi *= 2
    return float(brentq(lambda t: _md1_wait_cdf(rho, t) - 0.95, 0.0, hi, xtol=1e-6))


_GRID = np.concatenate([np.linspace(0.0, 0.9, 91), 1 - np.geomspace(0.1, 0.003, 60)[1:]])
_MD1_TABLE: np.ndarray | None = None


def md1_p95(rate: float) -> float:
    """p95 sojourn of M/D/1 (D = S), in ms: W95 + D, interpolated on a fine grid of ρ (computed once)."""
    global _MD1_TABLE
    rho = rate / MU
    if rho >= 1:
        return math.inf
    if _MD1_TABLE is None:
        _MD1_TABLE = np.array([_md1_w95(float(r)) for r in _GRID])
    if rho > _GRID[-1]:
        return 1e3 * S * (1 + _md1_w95(round(rho, 6)))
    return 1e3 * S * (1 + float(np.interp(rho, _GRID, _MD1_TABLE)))


@dataclass(frozen=True)
class Case:
    name: str
    curve: Callable[[float], float]  # offered req/s → true p95 ms
    rho: float  # where λ sits

    @property
    def bound_ms(self) -> float:
        return self.curve(self.rho * MU)

    @property
    def truth(self) -> float:
        return self.rho * MU


class Server:
    """A probe of a simulated server: the true percentile × log-normal noise; overloaded at ρ ≥ 1."""

    def __init__(self, case: Case, sigma: float, rng: np.random.Generator) -> None:
        self.case, self.sigma, self.rng = case, sigma, rng
        self.points: list[Point] = []

    def probe(self, rate: float) -> Step:
        true = self.case.curve(rate)
        noise = math.exp(self.rng.normal(0.0, self.sigma))
        seen = true * noise if math.isfinite(true) else math.inf  # overloaded
        ok = seen is not None and seen <= self.case.bound_ms
        self.points.append(Point(rate, seen, ok))
        return Step(rate, ok, rate if ok else MU, "ok" if ok else "p95 over", seen, self.case.bound_ms)


@dataclass(frozen=True)
class Outcome:
    estimate: Estimate
    probes: int
    fell_back: bool = False


def run_bisect(server: Server, start: float, settings: SearchSettings) -> Outcome | None:
    try:
        found = bisect(server.probe, start, settings, "sim")
    except SlaNotMetError:
        return None
    hi = min((s.rate_rps for s in found.steps if not s.feasible), default=found.peak_rps)
    return Outcome(Estimate(found.peak_rps, found.peak_rps, hi), len(found.steps))


def fitted(server: Server, bisected: Outcome | None, cap: bool = True) -> Outcome | None:
    """(b): the fit over the probes a bisection made; `cap=False`: the curve's own λ, even above a rate
    measured infeasible (what the cap costs)."""
    if bisected is None:
        return None
    got = estimate_peak(server.points, server.case.bound_ms, samples=BOOTSTRAP if cap else 0)
    if got is None:
        return None
    if not cap and got.fitted and got.curve is not None:
        value = got.curve.rate_at(server.case.bound_ms) or got.estimate.value
        return Outcome(Estimate(value, got.estimate.low, max(value, got.estimate.high)), len(server.points))
    return Outcome(got.estimate, len(server.points), not got.fitted)


def fit_placed(server: Server, start: float, budget: int) -> Outcome | None:
    """(c): bisection's opening (×2 up, ÷4 down) until a bracket, then each probe at the fitted λ (±4%,
    alternating, kept inside the bracket's outer probes), a bisection step where no curve fits yet."""
    lo: float | None = None
    hi: float | None = None
    rate = start
    while len(server.points) < budget and (lo is None or hi is None):
        step = server.probe(rate)
        if step.feasible:
            lo = rate
            rate = rate * 2 if hi is None else rate
        else:
            hi = rate
            rate = rate / 4 if lo is None else rate
    if lo is None:
        return None
    k = 0
    while len(server.points) < budget and hi is not None:
        curve = fit_curve(server.points, server.case.bound_ms)
        at = None if curve is None else curve.rate_at(server.case.bound_ms)
        if at is None or not lo / 2 <= at <= hi:
            at = (lo + hi) / 2
        at *= 1 + 0.04 * (-1) ** k
        k += 1
        step = server.probe(min(at, hi * 0.999))
        if step.feasible and step.rate_rps > lo:
            lo = step.rate_rps
        elif not step.feasible and step.rate_rps > lo:
            hi = min(hi, step.rate_rps)
    got = estimate_peak(server.points, server.case.bound_ms, samples=BOOTSTRAP)
    if got is None:
        return None
    return Outcome(got.estimate, len(server.points), not got.fitted)


def summary(name: str, truth: float, outcomes: list[Outcome | None], interval: bool = True) -> str:
    found = [o for o in outcomes if o is not None]
    errors = [o.estimate.value / truth - 1 for o in found]
    absolute = sorted(abs(e) for e in errors)
    p90 = absolute[min(len(absolute) - 1, int(0.9 * len(absolute)))]
    covered = statistics.fmean(o.estimate.low <= truth <= o.estimate.high for o in found)
    shown = f"{covered:8.0%}" if interval else f"{'-':>8}"
    back = statistics.fmean(o.fell_back for o in found)
    probes = statistics.fmean(o.probes for o in found)
    return (
        f"  {name:<26} {statistics.median(absolute):7.1%} {p90:7.1%} {statistics.median(errors):+7.1%}"
        f" {probes:6.1f} {shown} {back:8.0%} {len(outcomes) - len(found):5d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=150, help="seeded repetitions per case and method")
    parser.add_argument("--sigma", type=float, default=0.12, help="log-normal noise of one probe's p95")
    parser.add_argument("--budgets", default="5,9", help="probes per search, beside the shipped search's")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    began = time.monotonic()
    cases = [
        Case(f"{name} ρ*={rho}", curve, rho)
        for name, curve in (("M/M/1+c", mm1_p95), ("M/D/1", md1_p95))
        for rho in (0.5, 0.8, 0.93)
    ]
    searches = [
        (f"{opening} ≤{n}", SearchSettings(tolerance=0.05, max_probes=n, opening=opening))
        for n in (8, 5)
        for opening in ("wide", "near")
    ]
    searches += [(f"N={n}", SearchSettings(tolerance=1e-4, max_probes=n, opening="wide")) for n in budgets]
    header = (
        f"  {'method':<26} {'|err|50':>7} {'|err|90':>7} {'bias':>7} {'probes':>6} {'covers λ':>8}"
        f" {'fellback':>8} {'none':>5}"
    )
    print(f"σ = {args.sigma} per probe, {args.reps} seeded searches per line; error = λ̂/λ − 1")
    print(
        "wide/near ≤n: tolerance 0.05, at most n probes, the search opening wide (×2 / ÷4 from the start, the"
        " search before 2026-12-07) or near (×1.375 / ÷1.375 first); N=n: n probes (tolerance 1e-4, wide);"
        " fit-placed: as many as the bisection"
    )
    for c, case in enumerate(cases):
        print(f"\n{case.name}: λ = {case.truth:.1f} req/s at p95 ≤ {case.bound_ms:.1f} ms (μ = {MU:.0f})")
        print(header)
        rows: dict[str, list[Outcome | None]] = {}
        for rep in range(args.reps):
            seed = [c, rep]
            start = START * MU * math.exp(np.random.default_rng([*seed, 99]).normal(0, 0.05))
            for label, settings in searches:
                server = Server(case, args.sigma, np.random.default_rng(seed))
                bisected = run_bisect(server, start, settings)
                rows.setdefault(f"bisect {label}", []).append(bisected)
                rows.setdefault(f"bisect+fit {label}", []).append(fitted(server, bisected))
                if label == searches[0][0]:
                    rows.setdefault(f"bisect+fit {label}, no cap", []).append(fitted(server, bisected, False))
                placed = Server(case, args.sigma, np.random.default_rng(seed))
                budget = len(server.points)
                rows.setdefault(f"fit-placed {label}", []).append(fit_placed(placed, start, budget))
        for label, _ in searches:
            for method in ("bisect", "bisect+fit", "fit-placed"):
                print(summary(f"{method} {label}", case.truth, rows[f"{method} {label}"]))
            if label == searches[0][0]:
                print(
                    summary(
                        f"bisect+fit {label}, no cap", case.truth, rows[f"bisect+fit {label}, no cap"], False
                    )
                )
    print(f"\n({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
