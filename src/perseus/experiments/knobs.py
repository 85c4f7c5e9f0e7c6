"""Kind `knobs`: a grid of serving knobs (instances × dynamic batching × intra-op threads × core pinning);
per setting, each model's λ alone and the models sharing one server, and the setting that saves most.
Every saving is against each model alone at its best measured setting (its highest λ in the grid), not at
the shared setting's knobs, which may leave cores idle; the same-knob saving is kept beside it. Dedicated
peaks depend only on the knobs that change them (not pinning), so settings that differ only in pinning
share them. Both choices (each model's best setting alone, the setting that saves most) are best-of-
several figures: each is searched again on fresh servers after the grid, and the headline is those
confirmations'."""

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
    CONFIRMING,
    SHARED_PEAK,
    alone_setting,
    dedicated_labels,
    dedicated_peak,
    dedicated_peaks,
    repeats,
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
    best: KnobRow | None  # the feasible setting with the largest saving (the one chosen and confirmed)
    against: dict[str, Alone]  # each model alone at its best setting, confirmed: what every saving is against
    # The best setting's shared peak searched again after the choice: what the headline reports (None: a
    # run from before confirmations, or one whose confirmation met no SLA).
    confirmed: KnobRow | None = None

    @property
    def headline(self) -> KnobRow | None:
        return self.confirmed or self.best


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
    grid = [
        label for s in settings_of(exp) for label in dedicated_labels(exp, _knobs(s)) + shared_labels(exp, s)
    ]
    confirmed = [_alone_label(k) for k in exp.model_keys() for _ in repeats(exp)]
    return [*grid, *confirmed, *_shared_labels(exp)]


def _alone_label(key: str) -> str:
    return f"confirm: {key} alone at its best setting"


CONFIRM_SHARED = "confirm: the setting that saves most, shared"


def _shared_labels(exp: Settings) -> list[str]:
    return [CONFIRM_SHARED for _ in repeats(exp)]


def _tenants(exp: Settings, setting: dict[str, Scalar]) -> tuple:  # type: ignore[type-arg]
    """The models as served at this setting; split pinning divides the cores among the tenants (tenant i
    gets every n-th core)."""
    cores = sorted(os.sched_getaffinity(0))
    n = len(exp.models)
    knobs = _knobs(setting)
    split = setting["pinning"] == "split"
    return tuple(
        t.model_copy(update={**knobs, "cpus": (tuple(cores[i::n]) or (cores[0],)) if split else None})
        for i, t in enumerate(exp.models)
    )


def run(experiment: ExperimentBase, lab: Lab) -> None:
    """The grid; then each model's best setting alone searched again, then the setting that saves most
    against those (its shared peak), each on fresh servers."""
    exp = _settings(experiment)
    alone: dict[str, list[tuple[float, dict[str, Scalar]]]] = {k: [] for k in exp.model_keys()}
    together: list[tuple[dict[str, Scalar], dict[str, float]]] = []
    for setting in settings_of(exp):
        knobs = _knobs(setting)
        try:
            peaks = dedicated_peaks(exp, lab, knobs)
            for key, rps in peaks.items():
                alone[key].append((rps, knobs))
            rates = shared_peak(exp, lab, peaks, _tenants(exp, setting), setting)
            where = shared(exp, setting)
            together.append((setting, {where.model_of(t): r for t, r in rates.items()}))
        except SlaNotMetError as exc:
            lab.status(f"setting {setting}: {exc}")
    against: dict[str, float] = {}
    for key, found in alone.items():
        label = _alone_label(key)
        if not found:
            for _ in repeats(exp):
                lab.phase(label)
            continue
        rps, knobs = max(found, key=lambda rk: rk[0])
        try:
            against[key] = dedicated_peak(exp, lab, key, knobs, confirm=True, label=label)
        except SlaNotMetError as exc:
            lab.status(f"{key} alone at {knobs}, confirming: {exc}")
            against[key] = rps
    if not together or len(against) < len(exp.models):
        for label in _shared_labels(exp):  # nothing to confirm: the phases are done
            lab.phase(label)
        return
    setting, _ = max(together, key=lambda sr: sum(r / against[m] for m, r in sr[1].items()))
    try:
        confirm = {**setting, CONFIRMING: 1}
        shared_peak(exp, lab, against, _tenants(exp, setting), confirm, label=CONFIRM_SHARED)
    except SlaNotMetError as exc:
        lab.status(f"setting {setting}, confirming: {exc}")


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    measured: list[Alone] = []
    confirmed: list[Alone] = []
    grid = {repr(k): k for k in map(_knobs, settings_of(exp))}.values()
    for knobs in grid:
        # Every dedicated λ counts, also of a setting whose shared server never ran.
        for key, alone in dedicated_found(trials, exp, knobs).items():
            measured.append(Alone(key, alone.total_rps, alone_setting(exp, key, knobs), alone.total))
        for key, twice in dedicated_found(trials, exp, knobs, confirm=True).items():
            confirmed.append(Alone(key, twice.total_rps, alone_setting(exp, key, knobs), twice.total))
    # Each model's best setting alone as confirmed after the grid (else, from before confirmations, the
    # best of the grid: a best of several, which leans high and so against sharing).
    against = {**best_alone(measured), **best_alone(confirmed)}
    if len(best_alone(confirmed)) < len(against):
        warnings.append(
            "knobs: λ alone of some model was not measured again after its best setting was chosen: "
            "the best of the grid leans high"
        )
    rows = [row for s in settings_of(exp) if (row := _row(exp, trials, s, against)) is not None]
    again = next(
        (r for s in settings_of(exp) if (r := _row(exp, trials, s, against, confirm=True)) is not None), None
    )
    if again is not None:  # the setting chosen in the run is the one confirmed
        best = next((r for r in rows if r.setting == again.setting), None)
        return Findings(rows, best, against, again if again.saving is not None else None)
    feasible_rows = [r for r in rows if r.saving is not None]
    best = max(feasible_rows, key=lambda r: r.saving if r.saving is not None else -math.inf, default=None)
    if best is not None:
        warnings.append(
            "knobs: the setting that saves most was not measured again after it was chosen: the best of "
            "several noisy savings leans high"
        )
    return Findings(rows, best, against)


def _row(
    exp: Settings,
    trials: list[TrialRow],
    setting: dict[str, Scalar],
    against: dict[str, Alone],
    confirm: bool = False,
) -> KnobRow | None:
    """One setting's shared peak and saving (None: its shared server never ran); `confirm`: its search
    again after it was chosen."""
    where_setting = {**setting, CONFIRMING: 1} if confirm else setting
    if not trials_of(trials, shared(exp, where_setting), SHARED_PEAK):
        return None  # never ran: its dedicated peaks were not all found, or it was not the one chosen
    peaks = {m: p.total_rps for m, p in dedicated_found(trials, exp, _knobs(setting)).items()}
    found = shared_found(trials, exp, where_setting)
    rates = found.rates_rps if found is not None else {}
    ok = found is not None and len(peaks) == len(exp.models)
    saving = (
        saving_interval({m: found.rate_of(m) for m in rates}, against) if ok and found is not None else None
    )
    same = sharing_saving(rates, peaks) if ok else None
    return KnobRow(setting, peaks, rates, saving, ok, same)
