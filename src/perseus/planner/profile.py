"""What the planner knows of one machine type, all measured by a `profile` run: each model's λ alone (at
the setting it shares a server with, and at its best measured setting), its memory, the SLA it was
measured under, and co-location points: a set of models at rates that just met every SLA together."""

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    @property
    def target(self) -> SlaTarget:
        return parse_sla(self.sla)


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


def efficiency(rates_rps: Mapping[str, float], lambdas: Mapping[str, float]) -> float:
    """Σ r/λ: how many dedicated machines' work these rates are."""
    return sum(rate / lambdas[m] for m, rate in rates_rps.items())
