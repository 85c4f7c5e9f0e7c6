"""Kind `steady` (the worked example of ARCHITECTURE.md): each model alone at a few fixed rates."""

from dataclasses import dataclass
from typing import Literal

from perseus.config.experiment import ExperimentBase, Strict
from perseus.experiments.analysis import offered, trials_of
from perseus.experiments.lab import Lab
from perseus.experiments.placements import alone, dedicated
from perseus.store import TrialRow

NAME = "steady"
REPORT = "tests.unit.example_kind_report"
STEADY = "steady"  # the purpose its trials are stored under


class SteadySettings(Strict):
    rates_rps: tuple[float, ...] = (10.0, 20.0)


class Settings(ExperimentBase):
    kind: Literal["steady"]
    steady: SteadySettings = SteadySettings()


@dataclass(frozen=True)
class Findings:
    p95_ms: dict[str, dict[float, float]]  # model → offered req/s → p95


def plan(experiment: ExperimentBase) -> list[str]:
    return [dedicated(experiment, key).label() for key in experiment.model_keys()]


def run(experiment: ExperimentBase, lab: Lab) -> None:
    assert isinstance(experiment, Settings)
    for key in experiment.model_keys():
        where = dedicated(experiment, key)
        lab.phase(where.label())
        with lab.serve(where, (alone(experiment, key),)) as server:
            for rate in experiment.steady.rates_rps:
                server.trial({where.names[0]: rate}, STEADY, rate=rate)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    assert isinstance(experiment, Settings)
    found: dict[str, dict[float, float]] = {}
    for key in experiment.model_keys():
        where = dedicated(experiment, key)
        for trial in trials_of(trials, where, STEADY):
            for tenant, rate in offered(trial).items():
                found.setdefault(key, {})[rate] = trial.summary.value(tenant, "p95_ms")
    return Findings(found)
