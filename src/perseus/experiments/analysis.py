"""Reading stored trials back, shared by every kind's analysis: the trials of one key, a probe as the
report shows it, λ of a search, and the dedicated and shared peaks. Pure over trial rows."""

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from perseus.config.experiment import ExperimentBase, SharedExperiment
from perseus.core.estimate import Point, estimate_peak
from perseus.core.interval import Estimate, centre, of_searches
from perseus.experiments.placements import PEAK, SHARED_PEAK, dedicated, repeats, shared
from perseus.store import Placement, TrialRow
from perseus.store.judge import Verdict, judge, judged, probes, sla_latency
from perseus.store.keys import Scalar


@dataclass(frozen=True)
class Probe:
    """One probe of a search: the offered rate(s), what came back, and whether it counted as feasible. A
    probe measured again (its first attempt in doubt) is all its attempts, judged together."""

    trial_id: int  # its last attempt's
    name: str
    offered_rps: dict[str, float]  # per tenant
    served_rps: dict[str, float]
    p95_ms: dict[str, float]  # over every attempt judged
    qos_satisfaction: dict[str, float]
    status: str  # valid | invalid | failed (of the last attempt)
    feasible: bool
    reason: str | None  # why not feasible; for a feasible probe that is not VALID, what flagged it
    attempts: int = 1  # attempts measured
    latencies: dict[str, int] = field(default_factory=dict)  # per tenant: latencies its SLA was judged on
    host: dict[str, float] = field(default_factory=dict)  # its last attempt's (TrialSummary.host)
    # The SLA percentile's latency / its bound, of the tenant nearest it (what a fitted search reads);
    # None when the probe was refused whatever its latencies (store.judge.sla_latency).
    sla_ratio: float | None = None


@dataclass(frozen=True)
class Peak:
    """λ: the highest offered rate found feasible (VALID and every SLA met), with how it was found; of
    repeated searches, their mean, each search's probes one after the other."""

    label: str  # e.g. "resnet50 dedicated", "shared"
    rates_rps: dict[str, float]  # per model at the peak (one entry when dedicated)
    p95_ms: dict[str, float]
    method: str  # bisect | ramp | bisect+fit (the λ of the curve fitted to its probes: core.estimate)
    probes: list[Probe]
    # The searched rate (the judged model's, else the total) with its interval; None: taken as exact.
    interval: Estimate | None = None
    judged: str | None = None  # the model whose rate was searched (others held fixed); None: all, in shares

    @property
    def total_rps(self) -> float:
        return sum(self.rates_rps.values())

    @property
    def searched(self) -> Estimate:
        return self.interval or Estimate.exact(self.total_rps)

    def rate_of(self, model: str) -> Estimate:
        """One model's rate at the peak with its interval: the searched rate's, or its share of it when the
        models were searched together; a model held at a fixed rate has none."""
        rate = self.rates_rps[model]
        if self.judged is not None:
            return self.searched if model == self.judged else Estimate.exact(rate)
        value = self.searched.value
        return self.searched.scaled(rate / value) if value > 0 else Estimate.exact(rate)

    @property
    def total(self) -> Estimate:
        """The total rate at the peak with its interval (the tenants not searched add exactly)."""
        searched = self.searched
        fixed = self.total_rps - searched.value
        return replace(
            searched, value=searched.value + fixed, low=searched.low + fixed, high=searched.high + fixed
        )


def probes_of(
    trials: Iterable[TrialRow], where: Placement, purpose: str, **params: Scalar
) -> list[list[TrialRow]]:
    """The probes stored under this placement and purpose (and these parameters), in the order run: each
    the attempts of one key, in order (a probe whose first attempt was in doubt was measured again)."""
    return probes(t for t in trials if t.key is not None and t.key.is_for(where, purpose, **params))


def trials_of(trials: Iterable[TrialRow], where: Placement, purpose: str, **params: Scalar) -> list[TrialRow]:
    """The trials stored under this placement and purpose (and these parameters), in the order run; of a
    probe measured again, its last attempt."""
    return [rows[-1] for rows in probes_of(trials, where, purpose, **params)]


def offered(trial: TrialRow) -> dict[str, float]:
    key = trial.key
    return dict(key.offered) if key is not None else {}


def values(trial: TrialRow, field: str) -> dict[str, float]:
    return {t: float(trial.summary.value(t, field, math.nan)) for t in offered(trial)}


def probe_of(attempts: Sequence[TrialRow]) -> Probe:
    """A probe as its search judged it: every attempt together (store.judge)."""
    last = attempts[-1]
    rates = offered(last)
    loaded = [t for t, r in rates.items() if r > 0]
    verdict = judge(attempts, loaded)
    latency = sla_latency(attempts, verdict, loaded)
    used = judged(attempts) or [last]
    served = {t: statistics.fmean(values(a, "throughput_rps")[t] for a in used) for t in rates}
    p95 = {t: (j.p95_ms if (j := verdict.tenants.get(t)) else math.nan) for t in rates}
    return Probe(
        last.id,
        last.name,
        rates,
        served,
        p95,
        {t: statistics.fmean(values(a, "qos_satisfaction")[t] for a in used) for t in rates},
        last.status,
        verdict.feasible,
        None if verdict.feasible and not verdict.flagged and verdict.attempts <= 1 else _why(verdict),
        len(attempts),
        {t: j.requests for t, j in verdict.tenants.items() if j.requests is not None},
        dict(last.summary.host),
        None if latency is None else latency[0] / latency[1],
    )


def _why(verdict: Verdict) -> str:
    """Why a probe is not feasible; or, for one that counts though INVALID, what flagged it."""
    if not verdict.feasible:
        return verdict.detail
    return "every SLA met; " + verdict.detail.removeprefix("ok (").removesuffix(")")


def by_model(where: Placement, per_tenant: Mapping[str, float]) -> dict[str, float]:
    return {where.model_of(t): v for t, v in per_tenant.items()}


def peak(
    trials: list[TrialRow],
    where: Placement,
    purpose: str,
    judged: str | None,
    method: str,
    title: str,
    **params: Scalar,
) -> Peak | None:
    """λ of one search: the feasible probe with the highest offered rate (bisect: every feasible probe
    sits below the final bracket) or the highest served rate (ramp, the paper's rule); `bisect+fit`
    (SearchSettings.how), where the latency curve fitted to every probe meets the SLA, as the search
    found it (orchestrate.search.fitted), the bisection's answer when the fit is poor. Its rates (every
    tenant's offered rate at that probe, the searched ones moved to the fitted λ) are by model key."""
    probes = [probe_of(rows) for rows in probes_of(trials, where, purpose, **params)]
    good = [p for p in probes if p.feasible]
    if not good:
        return None

    def score(p: Probe) -> float:
        rates = p.served_rps if method == "ramp" else p.offered_rps
        return rates[judged] if judged is not None else sum(rates.values())

    best = max(good, key=score)
    interval = of_searches([(score(best), _bracket_high(probes, best, judged))])
    rates, how = best.offered_rps, method
    if method == FITTED:  # said only of a λ the fit gave: a poor fit leaves the bisection's, said so
        got = estimate_peak([Point(score(p), p.sla_ratio, p.feasible) for p in probes], 1.0)
        fitted = got is not None and got.fitted
        how = FITTED if fitted else "bisect"
        if got is not None and fitted:
            interval = got.estimate
            rates = _moved(rates, judged, got.estimate.value / score(best))
    return Peak(
        title,
        by_model(where, rates),
        by_model(where, best.p95_ms),
        how,
        probes,
        interval,
        None if judged is None else where.model_of(judged),
    )


FITTED = "bisect+fit"  # SearchSettings.how of `estimator: fit`


def _moved(rates: Mapping[str, float], judged: str | None, factor: float) -> dict[str, float]:
    """The rates at a fitted λ: the searched tenant's (all of them, in their shares, when judged is None)
    scaled from the best feasible probe's; a tenant held at a fixed rate keeps it."""
    return {t: r * factor if judged is None or t == judged else r for t, r in rates.items()}


def _bracket_high(probes: list[Probe], best: Probe, judged: str | None) -> float:
    """The lowest offered rate above the best feasible one that was not feasible: λ lies below it. The
    best rate itself when the search found no such bound (it ran out of probes while rising)."""

    def offered_at(p: Probe) -> float:
        return p.offered_rps[judged] if judged is not None else sum(p.offered_rps.values())

    above = [offered_at(p) for p in probes if not p.feasible and offered_at(p) > offered_at(best)]
    return min(above, default=offered_at(best))


def combined(found: Sequence[Peak]) -> Peak:
    """One λ from independent searches of the same placement: each model's rate the centre of its rates
    (the geometric mean, as λ's own: see of_searches), each search's probes, and the interval of their
    spread. A model held at a fixed rate keeps it; the searched ones' shares stay what they were."""
    first = found[0]
    if len(found) == 1:
        return first
    rates = {m: centre(p.rates_rps[m] for p in found) for m in first.rates_rps}
    p95 = {m: statistics.fmean(p.p95_ms[m] for p in found) for m in first.p95_ms}
    brackets = [(p.searched.value, p.searched.high) for p in found]
    return Peak(
        first.label,
        rates,
        p95,
        first.method,
        [probe for p in found for probe in p.probes],
        of_searches(brackets),
        first.judged,
    )


def dedicated_found(
    trials: list[TrialRow],
    exp: ExperimentBase,
    knobs: Mapping[str, Scalar] | None = None,
    confirm: bool = False,
) -> dict[str, Peak]:
    """λ of each model alone, by model key, over its repeated searches (missing when no probe of any was
    feasible; a repeat that found none is left out of the mean); `confirm`: the confirmation's searches."""
    found: dict[str, Peak] = {}
    for key in exp.model_keys():
        searches = []
        for repeat in repeats(exp):
            where = dedicated(exp, key, knobs, repeat, confirm)
            (name,) = where.names
            result = peak(trials, where, PEAK, name, exp.search.how, f"{key} dedicated", tenant=name)
            searches += [result] if result is not None else []
        if searches:
            found[key] = combined(searches)
    return found


def shared_found(
    trials: list[TrialRow], exp: SharedExperiment, setting: Mapping[str, Scalar] = {}
) -> Peak | None:
    searches = [
        peak(trials, shared(exp, setting, repeat), SHARED_PEAK, None, exp.search.how, "shared")
        for repeat in repeats(exp)
    ]
    kept = [p for p in searches if p is not None]
    return combined(kept) if kept else None
