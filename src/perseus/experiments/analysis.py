"""Reading stored trials back, shared by every kind's analysis: the trials of one key, a probe as the
report shows it, λ of a search, and the dedicated and shared peaks. Pure over trial rows."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perseus.config.experiment import ExperimentBase, SharedExperiment
from perseus.experiments.placements import PEAK, SHARED_PEAK, dedicated, shared
from perseus.store import Placement, TrialRow
from perseus.store.judge import feasible
from perseus.store.keys import Scalar


@dataclass(frozen=True)
class Probe:
    """One trial of a search: the offered rate(s), what came back, and whether it counted as feasible."""

    trial_id: int
    name: str
    offered_rps: dict[str, float]  # per tenant
    served_rps: dict[str, float]
    p95_ms: dict[str, float]
    qos_satisfaction: dict[str, float]
    status: str  # valid | invalid | failed
    feasible: bool
    reason: str | None  # why not feasible; for a feasible probe that is not VALID, what flagged it


@dataclass(frozen=True)
class Peak:
    """λ: the highest offered rate found feasible (VALID and every SLA met), with how it was found."""

    label: str  # e.g. "resnet50 dedicated", "shared"
    rates_rps: dict[str, float]  # per model at the peak (one entry when dedicated)
    p95_ms: dict[str, float]
    method: str  # bisect | ramp
    probes: list[Probe]

    @property
    def total_rps(self) -> float:
        return sum(self.rates_rps.values())


def trials_of(trials: Iterable[TrialRow], where: Placement, purpose: str, **params: Scalar) -> list[TrialRow]:
    """The trials stored under this placement and purpose (and these parameters), in the order run; of a
    probe measured again (a doubtful first attempt), only the last attempt, the one its search used."""
    found: dict[str, TrialRow] = {}
    for trial in trials:
        key = trial.key
        if key is not None and key.is_for(where, purpose, **params):
            first = key.with_attempt(0).name()
            if first not in found or key.attempt >= (found[first].key or key).attempt:
                found[first] = trial
    return sorted(found.values(), key=lambda t: t.id)


def offered(trial: TrialRow) -> dict[str, float]:
    key = trial.key
    return dict(key.offered) if key is not None else {}


def values(trial: TrialRow, field: str) -> dict[str, float]:
    return {t: float(trial.summary.value(t, field, math.nan)) for t in offered(trial)}


def probe_of(trial: TrialRow) -> Probe:
    rates = offered(trial)
    ok, detail = feasible(trial, [t for t, r in rates.items() if r > 0])
    return Probe(
        trial.id,
        trial.name,
        rates,
        values(trial, "throughput_rps"),
        values(trial, "p95_ms"),
        values(trial, "qos_satisfaction"),
        trial.status,
        ok,
        None if ok and trial.status == "valid" else _why(trial, ok, detail),
    )


def _why(trial: TrialRow, ok: bool, detail: str) -> str:
    """Why a probe is not feasible; or, for one that counts though INVALID, what flagged it."""
    if not ok:
        return detail
    return f"every SLA met; flagged: {trial.reason or 'INVALID with no reason stored'}"


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
    sits below the final bracket) or the highest served rate (ramp, the paper's rule). Its rates (every
    tenant's offered rate at that probe) are by model key."""
    probes = [probe_of(t) for t in trials_of(trials, where, purpose, **params)]
    good = [p for p in probes if p.feasible]
    if not good:
        return None

    def score(p: Probe) -> float:
        rates = p.served_rps if method == "ramp" else p.offered_rps
        return rates[judged] if judged is not None else sum(rates.values())

    best = max(good, key=score)
    return Peak(title, by_model(where, best.offered_rps), by_model(where, best.p95_ms), method, probes)


def dedicated_found(
    trials: list[TrialRow], exp: ExperimentBase, knobs: Mapping[str, Scalar] | None = None
) -> dict[str, Peak]:
    """λ of each model alone, by model key (missing when no probe was feasible)."""
    found: dict[str, Peak] = {}
    for key in exp.model_keys():
        where = dedicated(exp, key, knobs)
        (name,) = where.names
        result = peak(trials, where, PEAK, name, exp.search.method, f"{key} dedicated", tenant=name)
        if result is not None:
            found[key] = result
    return found


def shared_found(
    trials: list[TrialRow], exp: SharedExperiment, setting: Mapping[str, Scalar] = {}
) -> Peak | None:
    return peak(trials, shared(exp, setting), SHARED_PEAK, None, exp.search.method, "shared")
