"""Kind `peak`: λ, the highest rate each model serves alone within its SLA (open loop, bisection or the
paper's ramp)."""

from dataclasses import dataclass
from typing import Literal

from perseus.config.experiment import ExperimentBase
from perseus.experiments.analysis import Peak, dedicated_found
from perseus.experiments.lab import Lab
from perseus.experiments.placements import dedicated_labels, dedicated_peaks
from perseus.store import TrialRow

NAME = "peak"
REPORT = "perseus.report.kinds.peak"


class Settings(ExperimentBase):
    kind: Literal["peak"]


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]  # by model key


def plan(experiment: ExperimentBase) -> list[str]:
    return dedicated_labels(experiment)


def run(experiment: ExperimentBase, lab: Lab) -> None:
    dedicated_peaks(experiment, lab)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    return Findings(dedicated_found(trials, experiment))
