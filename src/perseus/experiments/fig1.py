"""Kind `dedicated-vs-multitenant` (PERSEUS Fig 1): each model's λ alone, then the models sharing one
server at request-rate weights; the saving 1 − 1/Σ(r/λ) and $ per 1M inferences on priced machines. It
measures each model alone at one setting (as its file configures it), so that is the best dedicated
setting every saving is against."""

from dataclasses import dataclass
from typing import Literal

from perseus.config.experiment import ExperimentBase, SharedExperiment
from perseus.core.interval import Estimate
from perseus.cost.pricing import CostLine, cost_line, priced_machines
from perseus.cost.saving import Alone, saving_interval
from perseus.experiments.analysis import Peak, dedicated_found, shared_found
from perseus.experiments.lab import Lab
from perseus.experiments.placements import (
    alone_setting,
    dedicated_labels,
    dedicated_peaks,
    shared_labels,
    shared_peak,
)
from perseus.store import TrialRow

NAME = "dedicated-vs-multitenant"
REPORT = "perseus.report.kinds.fig1"


class Settings(SharedExperiment):
    kind: Literal["dedicated-vs-multitenant"]

    MODELS = 2
    PRICED = True


@dataclass(frozen=True)
class Fig1:
    """Paper Fig 1: each model's λ alone vs the models sharing one server."""

    models: list[str]
    dedicated: dict[str, Peak]
    shared: Peak
    saving_interval: Estimate  # 1 − 1/Σ r_i/λ_i at the shared peak, λ from `against`; negative: sharing loses
    costs: list[CostLine]
    against: dict[str, Alone]  # each model alone at the setting measured: what the saving is against

    @property
    def saving(self) -> float:
        return self.saving_interval.value


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]
    fig1: Fig1 | None


def _settings(experiment: ExperimentBase) -> SharedExperiment:
    assert isinstance(experiment, SharedExperiment)
    return experiment


def plan(experiment: ExperimentBase) -> list[str]:
    return dedicated_labels(experiment) + shared_labels(experiment)


def run(experiment: ExperimentBase, lab: Lab) -> None:
    exp = _settings(experiment)
    shared_peak(exp, lab, dedicated_peaks(exp, lab))


def fig1_of(
    trials: list[TrialRow], exp: SharedExperiment, dedicated: dict[str, Peak], warnings: list[str]
) -> Fig1 | None:
    """Fig 1 from the stored shared peak and the dedicated peaks (frontier runs it too)."""
    found = shared_found(trials, exp)
    if found is None or len(dedicated) < len(exp.models):
        warnings.append("Fig 1 incomplete: no feasible shared or dedicated peak was stored")
        return None
    against = against_of(exp, dedicated)
    costs = []
    # Priced with the catalog of today: a stored run whose machine has left it still reports the rest.
    for machine in priced_machines(exp.price.catalog, exp.price.machines, warnings):
        costs += [cost_line(f"{m} dedicated", machine, p.total_rps, p.total) for m, p in dedicated.items()]
        costs.append(cost_line("shared", machine, found.total_rps, found.total))
    rates = {m: found.rate_of(m) for m in found.rates_rps}
    return Fig1([*dedicated], dedicated, found, saving_interval(rates, against), costs, against)


def against_of(exp: SharedExperiment, dedicated: dict[str, Peak]) -> dict[str, Alone]:
    """Each model alone at the one setting this kind measures it at: its best dedicated setting."""
    return {m: Alone(m, p.total_rps, alone_setting(exp, m), p.total) for m, p in dedicated.items()}


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    peaks = dedicated_found(trials, exp)
    return Findings(peaks, fig1_of(trials, exp, peaks, warnings))
