"""An experiment file (`perseus run FILE.yaml`): the question, its models, SLAs, load and search settings.

It should read like the question: kind says which protocol (PERSEUS Fig 1 / Fig 2, VELTAIR QoS and
interference, the knob grid), models say who is served with which knobs, sla says what "good" means.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from perseus.config.loading import load_yaml
from perseus.config.serving import TenantConfig, tenant_names
from perseus.core.errors import ConfigError
from perseus.core.sla import SlaTarget, parse_sla

Kind = Literal["peak", "dedicated-vs-multitenant", "frontier", "qos-sweep", "interference", "knobs"]
KINDS: tuple[Kind, ...] = (
    "peak",
    "dedicated-vs-multitenant",
    "frontier",
    "qos-sweep",
    "interference",
    "knobs",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialSettings(_Strict):
    """Each probe is one trial: warm-up discarded, then until 3 windows agree (or max_duration_s)."""

    warmup_s: float = Field(default=2.0, ge=0)
    min_duration_s: float = Field(default=5.0, gt=0)
    max_duration_s: float = Field(default=15.0, gt=0)
    tolerance: float = Field(default=0.10, gt=0, lt=1, description="stability: windows agree within ±this")
    retries: int = Field(default=1, ge=0, le=3, description="re-run a probe judged unstable this many times")
    late_threshold_ms: float | None = Field(
        default=None,
        gt=0,
        description="a send this late is late (>1% late invalidates a probe); default: 5% of the SLA, ≥ 2 ms",
    )

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.min_duration_s > self.max_duration_s:
            raise ValueError("min_duration_s must be ≤ max_duration_s")
        return self


class LoadSettings(_Strict):
    arrival: Literal["poisson", "constant"] = Field(
        default="poisson", description="open-loop arrivals; the paper sent at a constant rate"
    )
    protocol: Literal["grpc", "http"] = "grpc"
    batch: int = Field(default=1, ge=1)


class SearchSettings(_Strict):
    """How λ (the peak rate under the SLA) is found."""

    method: Literal["bisect", "ramp"] = Field(
        default="bisect", description="bisect: to ±tolerance; ramp: the paper's fixed steps"
    )
    tolerance: float = Field(default=0.03, gt=0, lt=1, description="bisect: stop when hi−lo ≤ this × lo")
    start_rps: float | None = Field(
        default=None, gt=0, description="first probe; default: a short closed-loop measurement"
    )
    step_rps: float | None = Field(default=None, gt=0, description="ramp: step; default start_rps / 4")
    patience: int = Field(default=6, ge=1, description="ramp: stop after this many passes without a gain")
    max_probes: int = Field(default=14, ge=2, le=100)


class FrontierSettings(_Strict):
    fractions: tuple[float, ...] = Field(
        default=(0.25, 0.5, 0.75), min_length=1, description="A is held at these fractions of λ_A"
    )

    @field_validator("fractions")
    @classmethod
    def _between(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("fractions must lie strictly between 0 and 1")
        return tuple(sorted(value))


class QosSettings(_Strict):
    fractions: tuple[float, ...] = Field(
        default=(0.25, 0.5, 0.75, 0.9, 1.0, 1.1),
        min_length=1,
        description="offered load as fractions of each tenant's λ alone",
    )


class InterferenceSettings(_Strict):
    load_fraction: float = Field(default=0.5, gt=0, lt=1, description="each tenant offered this share of λ")
    copies: int = Field(
        default=4, ge=0, le=16, description="N copies of the first model (VELTAIR: 4); 0 = skip"
    )
    pinning: tuple[bool, ...] = Field(
        default=(False, True), min_length=1, description="copies unpinned, pinned"
    )
    peaks: bool = Field(default=True, description="also search each victim's λ with the aggressor running")


class KnobGrid(_Strict):
    """Settings tried for the knobs experiment; every combination is one setting."""

    instances: tuple[int, ...] = (1,)
    dynamic_batching: tuple[bool, ...] = (False,)
    intra_op_threads: tuple[int, ...] = (0,)
    pinning: tuple[Literal["shared", "split"], ...] = Field(
        default=("shared",),
        description="shared: all tenants on all cores; split: cores divided among tenants",
    )


class PriceSettings(_Strict):
    catalog: Path | None = Field(default=None, description="price catalog YAML; default: the shipped one")
    machines: tuple[str, ...] = Field(default=("gcp-n2-standard-2",), min_length=1)


class Experiment(_Strict):
    name: str = Field(min_length=1, max_length=120)
    kind: Kind
    description: str = ""
    models: tuple[TenantConfig, ...] = Field(min_length=1)
    sla: str | dict[str, str] = Field(default="p95=750ms", description="one target, or one per model")
    share: dict[str, float] | None = Field(
        default=None, description="shared placement: request-rate weights per model (default equal)"
    )
    load: LoadSettings = LoadSettings()
    search: SearchSettings = SearchSettings()
    trial: TrialSettings = TrialSettings()
    frontier: FrontierSettings = FrontierSettings()
    qos: QosSettings = QosSettings()
    interference: InterferenceSettings = InterferenceSettings()
    knobs: KnobGrid = KnobGrid()
    price: PriceSettings = PriceSettings()
    telemetry_interval_s: float = Field(default=1.0, gt=0)

    @field_validator("models", mode="before")
    @classmethod
    def _plain_names(cls, value: object) -> object:
        """`- resnet50` is short for `- {model: resnet50}`."""
        if isinstance(value, list | tuple):
            return [{"model": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("sla")
    @classmethod
    def _parse(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        for text in [value] if isinstance(value, str) else value.values():
            try:
                parse_sla(text)
            except ConfigError as exc:  # e.g. a unit it does not know; pydantic adds the field
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        bases = [t.model.split(":", 1)[0] for t in self.models]
        if self.kind in ("dedicated-vs-multitenant", "frontier") and len(self.models) != 2:
            raise ValueError(f"{self.kind} compares exactly two models, got {len(self.models)}")
        if self.kind == "interference" and len(self.models) < 1:
            raise ValueError("interference needs at least one model")
        for named in (self.sla if isinstance(self.sla, dict) else {}, self.share or {}):
            unknown = sorted(set(named) - set(bases))
            if unknown:
                raise ValueError(f"{', '.join(unknown)} is not one of the models {bases}")
        if isinstance(self.sla, dict) and set(self.sla) != set(bases):
            raise ValueError(f"sla per model must name every model: {bases}")
        if self.share is not None and any(w <= 0 for w in self.share.values()):
            raise ValueError("share weights must be > 0")
        return self

    def model_keys(self) -> list[str]:
        """How the models are named in results: as tenants of one server (a repeated model gets -2, -3)."""
        return tenant_names([t.model for t in self.models])

    def base_of(self, key: str) -> str:
        return (
            self.models[self.model_keys().index(key)].model.split(":", 1)[0]
            if key in self.model_keys()
            else key
        )

    def sla_of(self, model_base: str) -> SlaTarget:
        base = self.base_of(model_base)
        return parse_sla(self.sla if isinstance(self.sla, str) else self.sla[base])


def load_experiment(path: Path) -> Experiment:
    return load_yaml(path, Experiment)
