"""Kind `knobs`: a grid of serving knobs (instances × dynamic batching × intra-op threads × core pinning);
per setting, each model's λ alone and the models sharing one server, and the setting that saves most.
Every saving is against each model alone at its best measured setting (its highest λ in the grid), not at
the shared setting's knobs, which may leave cores idle; the same-knob saving is kept beside it. Dedicated
peaks depend only on the knobs that change them (not pinning), so settings that differ only in pinning
share them."""

import itertools
import math
import os
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from perseus.config.experiment import ExperimentBase, SharedExperiment, Strict
from perseus.core.errors import SlaNotMetError
from perseus.core.interval import Estimate
from perseus.cost.saving import Alone, best_alone, saving_interval, sharing_saving
from perseus.experiments.analysis import dedicated_found, shared_found, trials_of
from perseus.experiments.lab import Lab
from perseus.experiments.placements import (
    SHARED_PEAK,
    alone_setting,
    dedicated_labels,
    dedicated_peaks,
    shared,
    shared_labels,
    shared_peak,
)
from perseus.store import TrialRow
from perseus.store.keys import Scalar

NAME = "knobs"
REPORT = "perseus.report.kinds.knobs"
DEDICATED_KNOBS = ("instances", "dynamic_batching", "intra_op_threads")


# The bounds of TenantConfig's fields: a grid value is checked when the file is read, not when the
# setting's server is built from it (model_copy does not validate) after the settings before it ran.
Instances = Annotated[int, Field(ge=1, le=64)]
Threads = Annotated[int, Field(ge=0, le=256)]


class KnobGrid(Strict):
    """Settings tried for the knobs experiment; every combination is one setting."""

    instances: tuple[Instances, ...] = Field(
        default=(1,), min_length=1, description="Triton instances per model"
    )
    dynamic_batching: tuple[bool, ...] = Field(
        default=(False,), min_length=1, description="Triton's dynamic batcher off/on"
    )
    intra_op_threads: tuple[Threads, ...] = Field(
        default=(0,), min_length=1, description="onnxruntime intra-op threads per instance (0: the default)"
    )
    pinning: tuple[Literal["shared", "split"], ...] = Field(
        default=("shared",),
        min_length=1,
        description="shared: all tenants on all cores; split: cores divided among tenants",
    )


class Settings(SharedExperiment):
    kind: Literal["knobs"]
    knobs: KnobGrid = Field(default=KnobGrid(), description="the knob values tried; every combination")


@dataclass(frozen=True)
class KnobRow:
    setting: dict[str, Scalar]  # e.g. {"instances": 2, "dynamic_batching": True, "pinning": "split"}
    dedicated_rps: dict[str, float]  # each model's λ alone with this setting's knobs
    shared_rps: dict[str, float]
    saving_interval: Estimate | None  # against Findings.against; None when no shared rate met the SLAs
    sla_met: bool
    same_knobs_saving: float | None  # against dedicated_rps: dedicated servers with this setting's knobs

    @property
    def saving(self) -> float | None:
        return None if self.saving_interval is None else self.saving_interval.value


@dataclass(frozen=True)
class Findings:
    rows: list[KnobRow]
    best: KnobRow | None  # the feasible setting with the largest saving
    against: dict[str, Alone]  # each model alone at its best measured setting: what every saving is against


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def settings_of(exp: Settings) -> list[dict[str, Scalar]]:
    grid = exp.knobs
    return [
        {"instances": i, "dynamic_batching": d, "intra_op_threads": t, "pinning": p}
        for i, d, t, p in itertools.product(
            grid.instances, grid.dynamic_batching, grid.intra_op_threads, grid.pinning
        )
    ]


def _knobs(setting: dict[str, Scalar]) -> dict[str, Scalar]:
    return {k: setting[k] for k in DEDICATED_KNOBS}


def plan(experiment: ExperimentBase) -> list[str]:
    exp = _settings(experiment)
    return [
        label for s in settings_of(exp) for label in dedicated_labels(exp, _knobs(s)) + shared_labels(exp, s)
    ]


def run(experiment: ExperimentBase, lab: Lab) -> None:
    exp = _settings(experiment)
    cores = sorted(os.sched_getaffinity(0))
    n = len(exp.models)
    for setting in settings_of(exp):
        knobs = _knobs(setting)
        try:
            peaks = dedicated_peaks(exp, lab, knobs)
            # Split pinning divides the cores among the tenants (tenant i gets every n-th core).
            split = setting["pinning"] == "split"
            tenants = tuple(
                t.model_copy(update={**knobs, "cpus": (tuple(cores[i::n]) or (cores[0],)) if split else None})
                for i, t in enumerate(exp.models)
            )
            shared_peak(exp, lab, peaks, tenants, setting)
        except SlaNotMetError as exc:
            lab.status(f"setting {setting}: {exc}")


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    measured: list[Alone] = []
    for knobs in {repr(k): k for k in map(_knobs, settings_of(exp))}.values():
        # Every dedicated λ counts, also of a setting whose shared server never ran.
        for key, alone in dedicated_found(trials, exp, knobs).items():
            measured.append(Alone(key, alone.total_rps, alone_setting(exp, key, knobs), alone.total))
    against = best_alone(measured)
    rows: list[KnobRow] = []
    for setting in settings_of(exp):
        if not trials_of(trials, shared(exp, setting), SHARED_PEAK):
            continue  # its dedicated peaks were not all found: the shared server never ran
        peaks = {m: p.total_rps for m, p in dedicated_found(trials, exp, _knobs(setting)).items()}
        found = shared_found(trials, exp, setting)
        rates = found.rates_rps if found is not None else {}
        ok = found is not None and len(peaks) == len(exp.models)
        saving = (
            saving_interval({m: found.rate_of(m) for m in rates}, against)
            if ok and found is not None
            else None
        )
        same = sharing_saving(rates, peaks) if ok else None
        rows.append(KnobRow(setting, peaks, rates, saving, ok, same))
    feasible_rows = [r for r in rows if r.saving is not None]
    best = max(feasible_rows, key=lambda r: r.saving if r.saving is not None else -math.inf, default=None)
    return Findings(rows, best, against)
