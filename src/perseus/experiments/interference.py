"""Kind `interference` (VELTAIR): each pair of models co-located vs alone at the same offered load (p95
slowdown, and λ of each beside the other), and N copies of the first model on one server with and
without core pinning."""

import itertools
import math
import os
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase, Strict
from perseus.config.serving import tenant_names
from perseus.core.errors import SlaNotMetError
from perseus.experiments.analysis import Peak, dedicated_found, offered, peak, probes_of, trials_of
from perseus.experiments.lab import Lab, Server
from perseus.experiments.placements import (
    PEAK,
    dedicated,
    dedicated_labels,
    dedicated_peaks,
    peak_of,
    placement,
)
from perseus.store import Placement, TrialRow
from perseus.store.judge import latency_ms

NAME = "interference"
REPORT = "perseus.report.kinds.interference"
LOAD = "load"


class InterferenceSettings(Strict):
    load_fraction: float = Field(default=0.5, gt=0, lt=1, description="each tenant offered this share of λ")
    copies: int = Field(
        default=4, ge=0, le=16, description="N copies of the first model (VELTAIR: 4); < 2 = skip"
    )
    pinning: tuple[bool, ...] = Field(
        default=(False, True), min_length=1, description="copies unpinned, pinned"
    )
    peaks: bool = Field(default=True, description="also search each victim's λ with the aggressor running")


class Settings(ExperimentBase):
    kind: Literal["interference"]
    interference: InterferenceSettings = Field(
        default=InterferenceSettings(), description="the pairs' load and the copies test"
    )


@dataclass(frozen=True)
class Slowdown:
    """How much co-location hurts `victim`: p95 with the others at the same offered rate vs alone."""

    victim: str
    aggressors: list[str]  # the co-located tenants (N−1 copies of itself for the copies test)
    pinned: bool
    offered_rps: float
    p95_alone_ms: float
    p95_together_ms: float
    peak_alone_rps: float | None = None
    peak_together_rps: float | None = None

    @property
    def p95_ratio(self) -> float:
        return self.p95_together_ms / self.p95_alone_ms if self.p95_alone_ms > 0 else float("nan")

    @property
    def peak_ratio(self) -> float | None:
        if self.peak_alone_rps and self.peak_together_rps is not None:
            return self.peak_together_rps / self.peak_alone_rps
        return None


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]
    pairs: list[Slowdown]  # one per ordered pair (victim, aggressor)
    copies: list[Slowdown]  # N copies of one model, with and without pinning


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def _pairs(exp: ExperimentBase) -> list[tuple[Placement, tuple[TenantConfig, TenantConfig]]]:
    models = list(zip(exp.model_keys(), exp.models, strict=True))
    return [
        (placement("pair", (t1, t2), (k1, k2)), (t1, t2))
        for (k1, t1), (k2, t2) in itertools.combinations(models, 2)
    ]


def _copies(exp: ExperimentBase, n: int, pinned: bool) -> tuple[Placement, tuple[TenantConfig, ...]]:
    cores = sorted(os.sched_getaffinity(0))
    key, tenant = exp.model_keys()[0], exp.models[0]
    group = tuple(
        tenant.model_copy(update={"cpus": (cores[i % len(cores)],) if pinned else None}) for i in range(n)
    )
    return placement("copies", group, tenant_names([key] * n), {"pinned": pinned}), group


def plan(experiment: ExperimentBase) -> list[str]:
    exp = _settings(experiment)
    phases = dedicated_labels(exp) + [p.label() for p, _ in _pairs(exp)]
    n = exp.interference.copies
    if n >= 2:
        phases += [_copies(exp, n, pinned)[0].label() for pinned in exp.interference.pinning]
    return phases


def run(experiment: ExperimentBase, lab: Lab) -> None:
    exp = _settings(experiment)
    lf = exp.interference.load_fraction

    def alone(server: Server, name: str, peak: float) -> None:  # the victim alone at its co-located load
        server.trial({name: lf * peak}, LOAD, fraction=lf)

    peaks = dedicated_peaks(exp, lab, then=alone)
    for where, tenants in _pairs(exp):
        lab.phase(where.label())
        with lab.serve(where, tenants) as server:
            rates = {t: lf * peaks[where.model_of(t)] for t in where.names}
            server.trial(rates, LOAD, fraction=lf)
            if exp.interference.peaks:
                for victim in where.names:
                    held = {t: r for t, r in rates.items() if t != victim}
                    start = (1 - lf) * peaks[where.model_of(victim)]
                    try:
                        peak_of(server, victim, held, start)
                    except SlaNotMetError as exc:
                        lab.status(str(exc))
    n = exp.interference.copies
    if n < 2:
        return
    per_copy = lf * peaks[exp.model_keys()[0]] / n
    for pinned in exp.interference.pinning:
        one, single = _copies(exp, 1, pinned)
        group, members = _copies(exp, n, pinned)
        lab.phase(group.label())
        with lab.serve(one, single) as server:
            server.trial({one.names[0]: per_copy}, LOAD, fraction=lf)
        with lab.serve(group, members) as server:
            server.trial({t: per_copy for t in group.names}, LOAD, fraction=lf)


def _p95(trials: list[TrialRow], where: Placement, tenant: str, lf: float) -> float:
    """The tenant's p95 at this load, over every attempt of its trial (pooled, as a probe is judged)."""
    rows = probes_of(trials, where, LOAD, fraction=lf)
    return latency_ms(rows[-1], tenant, 95.0) if rows else math.nan


def _pair_slowdowns(trials: list[TrialRow], exp: Settings, peaks: dict[str, Peak]) -> list[Slowdown]:
    lf = exp.interference.load_fraction
    found: list[Slowdown] = []
    for where, _ in _pairs(exp):
        for attempts in probes_of(trials, where, LOAD, fraction=lf):
            trial = attempts[-1]
            for victim in where.names:
                model = where.model_of(victim)
                (aggressor,) = [where.model_of(t) for t in where.names if t != victim]
                alone = dedicated(exp, model)
                beside = peak(trials, where, PEAK, victim, exp.search.how, "beside", tenant=victim)
                found.append(
                    Slowdown(
                        model,
                        [aggressor],
                        False,
                        offered(trial)[victim],
                        _p95(trials, alone, alone.names[0], lf),
                        latency_ms(attempts, victim, 95.0),
                        peaks[model].total_rps if model in peaks else None,
                        beside.rates_rps[model] if beside is not None else None,
                    )
                )
    return found


def _copy_slowdowns(trials: list[TrialRow], exp: Settings) -> list[Slowdown]:
    lf, n, key = exp.interference.load_fraction, exp.interference.copies, exp.model_keys()[0]
    found: list[Slowdown] = []
    for pinned in exp.interference.pinning if n >= 2 else ():
        one, group = _copies(exp, 1, pinned)[0], _copies(exp, n, pinned)[0]
        together = probes_of(trials, group, LOAD, fraction=lf)
        if trials_of(trials, one, LOAD, fraction=lf) and together:
            rates = offered(together[-1][-1])
            worst = max(latency_ms(together[-1], t, 95.0) for t in rates)
            first = min(rates)
            p95_alone = _p95(trials, one, one.names[0], lf)
            found.append(Slowdown(key, [f"{n - 1} × {key}"], pinned, rates[first], p95_alone, worst))
    return found


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    peaks = dedicated_found(trials, exp)
    return Findings(peaks, _pair_slowdowns(trials, exp, peaks), _copy_slowdowns(trials, exp))
