"""Kind `frontier` (PERSEUS Fig 2): after Fig 1, the first model held at fractions of its λ while the
second is pushed to its own beside it; the saving 1 − 1/(r_A/λ_A + r_B/λ_B) at each feasible pair, λ of
each model alone at the one setting measured (its best dedicated setting, as in Fig 1). The point that
saves most is chosen, then searched again on a fresh server (a confirmation): the best of several noisy
points leans high, the confirmation does not, so the headline is the confirmation's."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from perseus.config.experiment import ExperimentBase, SharedExperiment, Strict
from perseus.core.errors import SlaNotMetError
from perseus.core.interval import Estimate
from perseus.cost.saving import Alone, saving_interval
from perseus.experiments import fig1
from perseus.experiments.analysis import Peak, combined, dedicated_found, peak, shared_found, trials_of
from perseus.experiments.lab import Lab, RatesAt
from perseus.experiments.placements import (
    CONFIRMING,
    dedicated_labels,
    dedicated_peaks,
    repeats,
    shared,
    shared_labels,
    shared_on,
    shared_peak,
)
from perseus.store import Placement, TrialRow

NAME = "frontier"
REPORT = "perseus.report.kinds.frontier"
FRONTIER = "frontier"
CONFIRM = "confirm"  # purpose of the chosen point's search again, on placements set {CONFIRMING: 1}
AT_SHARE = "shared peak"  # the direction of Fig 1's shared peak (every model in its share), as a point
Direction = float | str  # a frontier point: the fraction of λ_A held, or AT_SHARE


class FrontierSettings(Strict):
    fractions: tuple[float, ...] = Field(
        default=(0.25, 0.5, 0.75),
        min_length=1,
        description="the first model is held at these fractions of its λ",
    )

    @field_validator("fractions")
    @classmethod
    def _between(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("fractions must lie strictly between 0 and 1")
        return tuple(sorted(value))


class Settings(SharedExperiment):
    kind: Literal["frontier"]
    frontier: FrontierSettings = Field(default=FrontierSettings(), description="the frontier points measured")

    MODELS = 2
    PRICED = True


@dataclass(frozen=True)
class FrontierPoint:
    rates_rps: dict[str, float]  # (r_A, r_B)
    saving_interval: Estimate
    source: str  # "dedicated" (an axis end), "measured" (A held at a fraction of λ_A) or "shared peak"
    direction: "Direction | None" = None  # along which it was searched (None: an axis end)

    @property
    def saving(self) -> float:
        return self.saving_interval.value


@dataclass(frozen=True)
class Fig2:
    """Paper Fig 2: feasible (r_A, r_B) pairs with A held at fractions of λ_A, and the saving at each;
    the point chosen as saving most, and its confirmation (the same direction searched again on a fresh
    server after the choice), which the headline reports."""

    models: tuple[str, str]
    against: dict[str, Alone]  # each model alone at its best dedicated setting: the axis ends, λ_A and λ_B
    points: list[FrontierPoint]
    best: FrontierPoint  # the measured point chosen as saving most (best of several: it leans high)
    confirmed: FrontierPoint | None = None  # that point searched again after the choice

    @property
    def headline(self) -> FrontierPoint:
        """What the headline reports: the confirmation, else (a run from before confirmations, or one
        whose confirmation found no feasible rate) the chosen point itself."""
        return self.confirmed or self.best

    @property
    def max_saving(self) -> float:
        return self.headline.saving

    @property
    def peaks(self) -> dict[str, float]:
        return {m: alone.rps for m, alone in self.against.items()}


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]
    fig1: fig1.Fig1 | None
    fig2: Fig2 | None


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def plan(experiment: ExperimentBase) -> list[str]:
    exp = _settings(experiment)
    a = exp.model_keys()[0]
    first, *again = shared_labels(exp)  # the frontier runs on the first shared server, before the repeats
    points = [f"frontier: {a} at {f:.0%} of λ" for f in exp.frontier.fractions]
    return [*dedicated_labels(exp), first, *points, *again, *confirm_labels(exp)]


def run(experiment: ExperimentBase, lab: Lab) -> None:
    """Fig 1's phases, then the frontier on the first shared server (Fig 1's shared peak at equal share
    is one more frontier point), then the shared peak's repeats, then the point that saved most searched
    again (`repeats` times) on fresh servers: the confirmation the headline reports."""
    exp = _settings(experiment)
    peaks = dedicated_peaks(exp, lab)
    key_a, key_b = exp.model_keys()
    where = shared(exp)
    lab.phase(where.label())
    measured: dict[Direction, float] = {}  # Σ r/λ of each point found
    with lab.serve(where, exp.models) as server:
        at_share = shared_on(exp, server, peaks)
        measured[AT_SHARE] = _work(where, at_share, peaks)
        name_a, name_b = where.tenant_of(key_a), where.tenant_of(key_b)
        assert name_a is not None and name_b is not None
        for fraction in exp.frontier.fractions:
            lab.phase(f"frontier: {key_a} at {fraction:.0%} of λ")
            start = (1 - fraction) * peaks[key_b]  # on the dedicated line: where sharing breaks even
            try:
                rate_b = server.search(
                    _holding(name_a, fraction * peaks[key_a], name_b),
                    [name_b],
                    start,
                    FRONTIER,
                    fraction=fraction,
                )
            except SlaNotMetError as exc:
                lab.status(f"no feasible point at {fraction:.0%}: {exc}")
                continue
            measured[fraction] = fraction + rate_b / peaks[key_b]
    again = shared_peak(exp, lab, peaks, first=2)
    if again:  # the shared peak's own repeats count in its choice as they do in its analysis
        measured[AT_SHARE] = (
            measured[AT_SHARE] + (exp.repeats - 1) * _work(where, again, peaks)
        ) / exp.repeats
    confirm(exp, lab, peaks, chosen(measured))


def _holding(a: str, rate_a: float, b: str) -> RatesAt:
    return lambda rate: {a: rate_a, b: rate}


def _work(where: Placement, rates: Mapping[str, float], peaks: Mapping[str, float]) -> float:
    return sum(rate / peaks[where.model_of(t)] for t, rate in rates.items())


def chosen(measured: Mapping[Direction, float]) -> Direction:
    """The point that saves most (the most dedicated machines' work on one): the one to confirm."""
    return max(measured, key=lambda d: measured[d])


def confirming(exp: Settings, repeat: int = 1) -> Placement:
    return shared(exp, {CONFIRMING: 1}, repeat)


def confirm_labels(exp: Settings) -> list[str]:
    return [f"confirm: {confirming(exp, r).label()}" for r in repeats(exp)]


def confirm(exp: Settings, lab: Lab, peaks: Mapping[str, float], direction: Direction) -> None:
    """The chosen point's direction searched again, `repeats` times, each on a fresh server."""
    key_a, key_b = exp.model_keys()
    for repeat, label in zip(repeats(exp), confirm_labels(exp), strict=True):
        where = confirming(exp, repeat)
        lab.phase(label)
        with lab.serve(where, exp.models) as server:
            try:
                if direction == AT_SHARE:
                    shared_on(exp, server, peaks, CONFIRM, along=AT_SHARE)
                else:
                    assert isinstance(direction, float)
                    name_a, name_b = where.tenant_of(key_a), where.tenant_of(key_b)
                    assert name_a is not None and name_b is not None
                    server.search(
                        _holding(name_a, direction * peaks[key_a], name_b),
                        [name_b],
                        (1 - direction) * peaks[key_b],
                        CONFIRM,
                        along=FRONTIER,
                        fraction=direction,
                    )
            except SlaNotMetError as exc:
                lab.status(f"confirmation found no feasible point: {exc}")


def fig2_of(
    trials: list[TrialRow], exp: Settings, dedicated: dict[str, Peak], warnings: list[str]
) -> Fig2 | None:
    a, b = exp.model_keys()
    if a not in dedicated or b not in dedicated:
        warnings.append("Fig 2 needs both dedicated peaks")
        return None
    against = fig1.against_of(exp, {a: dedicated[a], b: dedicated[b]})
    peaks = {m: alone.rps for m, alone in against.items()}
    where = shared(exp)
    name_b = where.tenant_of(b)
    none = Estimate.exact(0.0)  # an axis end is a dedicated server: no saving, by definition
    points = [FrontierPoint({a: peaks[a], b: 0.0}, none, "dedicated")]
    for fraction in exp.frontier.fractions:
        found = peak(trials, where, FRONTIER, name_b, exp.search.how, "frontier", fraction=fraction)
        if found is None:
            warnings.append(f"frontier: no feasible rate of {b} with {a} at {fraction:.0%} of λ_{a}")
            continue
        points.append(FrontierPoint(found.rates_rps, _saving(found, against), "measured", fraction))
    at_share = shared_found(trials, exp)
    if at_share is not None:  # Fig 1's shared peak (equal share) is a frontier point too
        points.append(FrontierPoint(at_share.rates_rps, _saving(at_share, against), "shared peak", AT_SHARE))
    points.append(FrontierPoint({a: 0.0, b: peaks[b]}, none, "dedicated"))
    points.sort(key=lambda p: -p.rates_rps[a])
    measured = [p for p in points if p.source != "dedicated"] or points
    best = max(measured, key=lambda p: p.saving)
    confirmed = _confirmed(trials, exp, against, warnings)
    if confirmed is not None:  # the point chosen in the run is the one confirmed
        direction, point = confirmed
        best = next((p for p in measured if p.direction == direction), best)
        return Fig2((a, b), against, points, best, point)
    if len(measured) > 0 and best.source != "dedicated":
        warnings.append(
            "Fig 2: the best point was not measured again after it was chosen: it is the best of several "
            "noisy points and leans high"
        )
    return Fig2((a, b), against, points, best)


def _confirmed(
    trials: list[TrialRow], exp: Settings, against: dict[str, Alone], warnings: list[str]
) -> tuple[Direction, FrontierPoint] | None:
    """The confirmation's direction and point (its searches combined), or None when none was stored."""
    b = exp.model_keys()[1]
    directions: list[Direction] = [AT_SHARE, *exp.frontier.fractions]
    for direction in directions:
        searches = []
        for repeat in repeats(exp):
            where = confirming(exp, repeat)
            if direction == AT_SHARE:
                found = peak(trials, where, CONFIRM, None, exp.search.how, "confirmed", along=AT_SHARE)
            else:
                name_b = where.tenant_of(b)
                found = peak(
                    trials, where, CONFIRM, name_b, exp.search.how, "confirmed", along=FRONTIER,
                    fraction=direction,
                )  # fmt: skip
            searches += [found] if found is not None else []
        if searches:
            point = combined(searches)
            return direction, FrontierPoint(point.rates_rps, _saving(point, against), "confirmed", direction)
    if any(trials_of(trials, confirming(exp, r), CONFIRM) for r in repeats(exp)):
        warnings.append("Fig 2: the confirmation of the chosen point found no feasible rate")
    return None


def _saving(found: Peak, against: dict[str, Alone]) -> Estimate:
    """The saving at a measured point, with the interval its rates and the dedicated λs give it. A model
    held at a fixed rate is taken as exact; only the searched rate carries its bracket."""
    return saving_interval({m: found.rate_of(m) for m in found.rates_rps}, against)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    peaks = dedicated_found(trials, exp)
    return Findings(peaks, fig1.fig1_of(trials, exp, peaks, warnings), fig2_of(trials, exp, peaks, warnings))
