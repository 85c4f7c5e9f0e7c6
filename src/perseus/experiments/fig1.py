"""Kind `dedicated-vs-multitenant` (PERSEUS Fig 1): each model's λ alone, then the models sharing one
server at request-rate weights; the saving 1 − 1/Σ(r/λ) and $ per 1M inferences on priced machines."""

from dataclasses import dataclass
from typing import Literal

from perseus.config.experiment import ExperimentBase, SharedExperiment
from perseus.cost.pricing import CostLine, cost_line, priced_machines
from perseus.cost.saving import sharing_saving
from perseus.experiments.analysis import Peak, dedicated_found, shared_found
from perseus.experiments.lab import Lab
from perseus.experiments.placements import dedicated, dedicated_peaks, shared, shared_peak
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
    saving: float  # 1 − 1/Σ r_i/λ_i at the shared peak; negative: sharing loses
    costs: list[CostLine]


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]
    fig1: Fig1 | None


def _settings(experiment: ExperimentBase) -> SharedExperiment:
    assert isinstance(experiment, SharedExperiment)
    return experiment


def plan(experiment: ExperimentBase) -> list[str]:
    keys = experiment.model_keys()
    return [dedicated(experiment, k).label() for k in keys] + [shared(experiment).label()]


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
    peaks = {m: p.total_rps for m, p in dedicated.items()}
    costs = []
    # Priced with the catalog of today: a stored run whose machine has left it still reports the rest.
    for machine in priced_machines(exp.price.catalog, exp.price.machines, warnings):
        costs += [cost_line(f"{m} dedicated", machine, p) for m, p in peaks.items()]
        costs.append(cost_line("shared", machine, found.total_rps))
    return Fig1([*dedicated], dedicated, found, sharing_saving(found.rates_rps, peaks), costs)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    peaks = dedicated_found(trials, exp)
    return Findings(peaks, fig1_of(trials, exp, peaks, warnings))
