"""Finding λ, the highest offered rate that is feasible (a VALID trial meeting every SLA): bisection to a
tolerance, or the paper's linear ramp; with `estimator: fit`, λ of a bisection from the latency curve
fitted to all its probes (core.estimate). Pure over a `probe(rate) -> Step` function."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perseus.config.experiment import SearchSettings
from perseus.core.errors import SlaNotMetError
from perseus.core.estimate import Point, estimate_peak
from perseus.core.interval import Estimate


@dataclass(frozen=True)
class Step:
    rate_rps: float
    feasible: bool
    served_rps: float  # what was carried (total over the tenants searched)
    detail: str  # why infeasible, for the error when nothing is
    # The SLA percentile's latency (ms) of the judged tenant nearest its bound, and that bound; None when
    # the probe gave none worth fitting (refused: overloaded, errors, too few requests) or was not told.
    latency_ms: float | None = None
    sla_ms: float | None = None


Probe = Callable[[float], Step]


@dataclass(frozen=True)
class Found:
    peak_rps: float  # the best feasible offered rate; with `estimator: fit`, the fitted λ
    steps: list[Step]
    estimate: Estimate | None = None  # λ with its interval, when the fit gave it


def points_of(steps: Sequence[Step]) -> list[Point]:
    """The probes as the estimator reads them: latency as a fraction of its SLA bound (so tenants with
    different bounds compare), None where the probe gave no latency worth fitting."""
    return [
        Point(
            s.rate_rps,
            s.latency_ms / s.sla_ms if s.latency_ms is not None and s.sla_ms else None,
            s.feasible,
        )
        for s in steps
    ]


def fitted(found: Found) -> Found:
    """A bisection's λ from the curve fitted to all its probes (its own answer when the fit is poor)."""
    got = estimate_peak(points_of(found.steps), 1.0)
    if got is None or not got.fitted:
        return found
    return Found(got.estimate.value, found.steps, got.estimate)


NEAR = 1.375  # opening: near's first step: from 0.8 of a closed-loop look at capacity to 1.1 of it


def _unreachable(what: str, step: Step) -> SlaNotMetError:
    return SlaNotMetError(f"{what}: not feasible even at {step.rate_rps:.3g} req/s ({step.detail})")


def bisect(
    probe: Probe, start_rps: float, settings: SearchSettings, what: str, floor_rps: float = 0.0
) -> Found:
    """Grow from start_rps (×2) until infeasible, shrink (÷4, never below floor_rps) until feasible, then
    halve the bracket until hi − lo ≤ tolerance × lo. λ = lo, always a measured feasible rate.

    `opening: near` makes the first step ×NEAR (or ÷NEAR): a start at 0.8 of a closed-loop look at
    capacity (a co-location's at Σ r/λ = 1) has λ near it, and an open-loop rate above that capacity is
    overloaded, so ×2 (1.6× capacity) was a probe spent on a certain "no", ÷4 one far below λ; and the
    bracket a search of 5 probes ended on was 12.5% wide, where from ×1.375 it is 4.7%.

    floor_rps is the lowest rate a trial can judge (below it a trial completes too few requests to be
    valid): probing under it would only collect "too few requests" verdicts, so a search starts no lower
    (a start under it, e.g. a pair's at a small share of its models' λ, begins at the floor) and one that
    fails at the floor stops there with the floor's own reason."""
    steps: list[Step] = []
    start_rps = max(start_rps, floor_rps)

    def run(rate: float) -> Step:
        step = probe(rate)
        steps.append(step)
        return step

    lo: float | None = None
    hi: float | None = None
    near = settings.opening == "near"

    def factor(wide: float) -> float:  # the step from the last probe: near's first is NEAR
        return NEAR if near and len(steps) == 1 else wide

    if run(start_rps).feasible:
        lo = start_rps
        while hi is None and len(steps) < settings.max_probes:
            rate = lo * factor(2.0)
            if run(rate).feasible:
                lo = rate
            else:
                hi = rate
    else:
        hi = start_rps
        while lo is None and len(steps) < settings.max_probes and hi > floor_rps:
            rate = max(hi / factor(4.0), floor_rps)
            if run(rate).feasible:
                lo = rate
            else:
                hi = rate
        if lo is None:
            raise _unreachable(what, steps[-1])
    while hi is not None and lo is not None and hi - lo > settings.tolerance * lo:
        if len(steps) >= settings.max_probes:
            break
        mid = (lo + hi) / 2
        if run(mid).feasible:
            lo = mid
        else:
            hi = mid
    assert lo is not None
    return Found(lo, steps)


def ramp(probe: Probe, step_rps: float, settings: SearchSettings, what: str) -> Found:
    """The paper's method: raise the rate by a fixed step per pass; stop after `patience` passes without a
    better feasible throughput; λ = the best feasible rate seen."""
    steps: list[Step] = []
    best: Step | None = None
    idle = 0
    rate = step_rps
    while idle < settings.patience and len(steps) < settings.max_probes:
        step = probe(rate)
        steps.append(step)
        if step.feasible and (best is None or step.served_rps > best.served_rps):
            best, idle = step, 0
        else:
            idle += 1
        rate += step_rps
    if best is None:
        raise _unreachable(what, steps[0])
    return Found(best.rate_rps, steps)


def find_peak(
    probe: Probe, start_rps: float, settings: SearchSettings, what: str, floor_rps: float = 0.0
) -> Found:
    start = settings.start_rps or start_rps
    if settings.method == "ramp":
        return ramp(probe, settings.step_rps or start / 4, settings, what)
    found = bisect(probe, start, settings, what, floor_rps)
    return fitted(found) if settings.estimator == "fit" else found
