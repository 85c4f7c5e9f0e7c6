"""What the planner knows of one machine type, all measured by `profile` runs: each model's λ alone (at
the setting it shares a server with, and at its best measured setting), its memory, the SLA it was
measured under, and co-location points: a set of models at rates that just met every SLA together.
Several runs of one type merge into one profile (`merged`)."""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from perseus.config.serving import TenantConfig
from perseus.core.interval import Estimate
from perseus.core.sla import SlaTarget, parse_sla

Setting = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class ModelProfile:
    model: str
    shared_rps: Estimate  # λ alone at the setting it shares a server with (the profile's configured knobs)
    best_rps: Estimate  # λ alone at its best measured setting: what a machine of its own serves
    best_setting: Setting
    memory_bytes: float  # peak RSS of its server processes, alone at the shared setting
    sla: str  # the SLA λ was measured under, e.g. "p95=100ms"
    config: TenantConfig | None = None  # how it was served (its knobs) where it shares a server
    # Each setting measured alone and its λ over shared_rps's (1 for the shared setting): what merging
    # several passes compares setting by setting. Empty: only best_setting is known (a frontier run).
    gains: tuple[tuple[Setting, float], ...] = ()

    @property
    def target(self) -> SlaTarget:
        return parse_sla(self.sla)

    @property
    def spec(self) -> str:
        """The model spec it was profiled as (its name when the profile did not keep its config)."""
        return self.config.model if self.config is not None else self.model


@dataclass(frozen=True)
class Colocation:
    """Models sharing one server at the highest rates (in a fixed mix) that met every SLA. `efficiency`
    is Σ r/λ there: 1 is what dedicated machines would do with the same work, > 1 sharing gains, < 1
    interference. `low`/`high`: its interval from the search's bracket (or repeats)."""

    models: tuple[str, ...]
    rates_rps: Mapping[str, float]
    efficiency: Estimate
    mix: float = 0.5  # the first model's share of the machine's work in the searched direction


@dataclass(frozen=True)
class MachineProfile:
    machine: str  # the price catalog's id of the machine type measured
    models: Mapping[str, ModelProfile]
    colocations: tuple[Colocation, ...] = ()
    source: str = ""  # e.g. "run 12 'profile of 6 zoo CNNs'"
    extrapolated_from: str | None = None  # set when scaled from another type's profile (--extrapolate)
    unmet: Mapping[str, str] = field(default_factory=dict)  # model → SLA it never met even alone here
    notes: tuple[str, ...] = field(default=())


def merged(profiles: Sequence[MachineProfile]) -> MachineProfile:
    """One machine type's profile from several runs of it (in order). λ of a model measured by more than
    one run is their median, its interval spanning all of them: one host served MobileNetV2 at 126, 81
    and 20 req/s hours apart, the last a search the host disturbed, which the median does not follow
    (the lowest would). Its best setting keeps the gain over the shared setting its own run measured (a
    knob's gain is relative, the host's speed is not); its memory is the largest. A model measured under
    different SLAs takes the last run's. Every co-location point is kept: its Σ r/λ is relative to its
    own run's λ, measured the same hour, and the capacity model averages the points of one pair. Its
    best setting is chosen after merging: each setting's median gain over the runs that measured it,
    then the largest (keeping the run with the largest gain would keep the luckiest draw)."""
    last = profiles[-1]
    if len(profiles) == 1:
        return last
    runs: dict[str, list[ModelProfile]] = {}
    for profile in profiles:
        for key, model in profile.models.items():
            runs.setdefault(key, []).append(model)
    models = {key: _merged_model(found) for key, found in runs.items()}
    unmet = {k: v for p in profiles for k, v in p.unmet.items() if k not in models}
    return replace(
        last,
        models=models,
        colocations=tuple(c for p in profiles for c in p.colocations),
        unmet=unmet,
        notes=tuple(n for p in profiles for n in p.notes),
    )


def _merged_model(found: list[ModelProfile]) -> ModelProfile:
    last = found[-1]
    same = [m for m in found if m.sla == last.sla]
    if len(same) == 1:
        return last
    median = statistics.median(m.shared_rps.value for m in same)
    low, high = min(m.shared_rps.low for m in same), max(m.shared_rps.high for m in same)
    shared = Estimate(median, low, high, len(same), min_max=True)  # the range of the runs: not a 90% interval
    setting, gain = best_gain(same)
    return replace(
        last,
        shared_rps=shared,
        best_rps=shared.scaled(gain),
        best_setting=setting,
        memory_bytes=max(m.memory_bytes for m in same),
        gains=tuple(merged_gains(same)),
    )


def merged_gains(found: Sequence[ModelProfile]) -> list[tuple[Setting, float]]:
    """Each setting measured by any of these runs, with its median gain over the runs that measured it
    (a run that lists no settings counts its best one)."""
    settings: list[Setting] = []
    gains: list[list[float]] = []
    for model in found:
        listed = model.gains or ((model.best_setting, model.best_rps.value / model.shared_rps.value),)
        for setting, gain in listed:
            index = next((i for i, s in enumerate(settings) if dict(s) == dict(setting)), None)
            if index is None:
                settings.append(setting)
                gains.append([])
                index = len(settings) - 1
            gains[index].append(gain)
    return [(s, statistics.median(g)) for s, g in zip(settings, gains, strict=True)]


def best_gain(found: Sequence[ModelProfile]) -> tuple[Setting, float]:
    """The setting whose median gain over the runs is largest, and that gain (at least the shared
    setting's 1: a model alone is never served worse than as it shares)."""
    setting, gain = max(merged_gains(found), key=lambda sg: sg[1])
    return (setting, gain) if gain >= 1.0 else (found[-1].best_setting, 1.0)
