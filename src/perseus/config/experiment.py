"""What every experiment file (`perseus run FILE.yaml`) has: its models, SLAs, load, trial, search and
price settings. Each kind adds its own sections (perseus.experiments.<kind>); the registry there reads a
file into the kind it names, and rejects a section that belongs to another kind.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from perseus.config.inputs import NORMAL, InputData
from perseus.config.serving import TenantConfig, served_names
from perseus.core.errors import ConfigError
from perseus.core.names import unknown
from perseus.core.sla import SlaTarget, parse_sla


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialSettings(Strict):
    """Each probe is one trial: warm-up discarded, then until 3 windows agree (or max_duration_s)."""

    warmup_s: float = Field(default=2.0, ge=0, description="seconds of load discarded before measuring")
    min_duration_s: float = Field(
        default=5.0, gt=0, description="measured seconds at least; then the trial ends once 3 windows agree"
    )
    max_duration_s: float = Field(
        default=15.0, gt=0, description="measured seconds at most, for a trial whose windows never agree"
    )
    tolerance: float = Field(default=0.10, gt=0, lt=1, description="stability: windows agree within ±this")
    retries: int = Field(
        default=1,
        ge=0,
        le=3,
        description="measure a probe in doubt (unstable, late sends, a busy host, a broken server) this many "
        "times more, whichever way its SLAs went; its attempts are judged together, latencies pooled",
    )
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


class LoadSettings(Strict):
    arrival: Literal["poisson", "constant"] = Field(
        default="poisson", description="open-loop arrivals; the paper sent at a constant rate"
    )
    protocol: Literal["grpc", "http"] = Field(default="grpc", description="gRPC (HTTP/2) or HTTP/1.1")
    batch: int = Field(default=1, ge=1, description="batch size of each request")


class SearchSettings(Strict):
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
    max_probes: int = Field(default=14, ge=2, le=100, description="probes per λ search at most")
    opening: Literal["near", "wide"] = Field(
        default="near",
        description="bisect: how a search opens its bracket from its start (by default 0.8 of a closed-loop "
        "look at capacity): near steps ×1.375 up from a feasible start (to 1.1× that capacity) or ÷1.375 "
        "down from an infeasible one, then ×2 up / ÷4 down; wide (the search before 2026-12-07) steps ×2 "
        "/ ÷4 from the start, a probe each way that is nearly always far off",
    )
    estimator: Literal["bisect", "fit"] = Field(
        default="bisect",
        description="bisect: λ is the highest feasible probe; fit: λ where the latency curve fitted to every "
        "probe (a + b·ρ/(1−ρ)) meets the SLA, the bisection's answer when the fit is poor",
    )

    @model_validator(mode="after")
    def _fit_needs_bisect(self) -> Self:
        if self.estimator == "fit" and self.method != "bisect":
            raise ValueError("estimator: fit reads a bisection's probes; it needs method: bisect")
        return self

    @property
    def how(self) -> str:
        """How λ is found, as stored with a peak and shown: bisect, ramp, or bisect+fit."""
        return "bisect+fit" if self.estimator == "fit" else self.method

    @model_serializer(mode="wrap")
    def _lean(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`estimator: bisect` and `opening: wide` are left out: a run stored before they existed searched
        that way and has the same spec (it resumes; experiments.registry.stored_experiment reads a spec
        without `opening` as wide). A file that does not say opens near, and its spec says so."""
        data: dict[str, Any] = handler(self)
        for key, default in (("estimator", "bisect"), ("opening", "wide")):
            if data.get(key) == default:
                del data[key]
        return data


class PriceSettings(Strict):
    catalog: Path | None = Field(default=None, description="price catalog YAML; default: the shipped one")
    machines: tuple[str, ...] = Field(
        default=("gcp-n2-standard-2",), min_length=1, description="catalog machine ids to price results on"
    )


class ExperimentBase(Strict):
    """What every kind shares; each kind (perseus.experiments) adds its own `kind` literal and sections."""

    name: str = Field(min_length=1, max_length=120, description="names the run in `runs list` and reports")
    kind: str = Field(description="what the experiment measures (the kinds below)")
    description: str = Field(default="", description="a sentence for the report")
    models: tuple[TenantConfig, ...] = Field(
        min_length=1, description="`- resnet50`, or `- {model: resnet50, instances: 2, cpus: '0-1'}`"
    )
    sla: str | dict[str, str] = Field(
        default="p95=750ms",
        description="latency target of every model (`p99=50ms`), or one per model "
        "(`{resnet50: p95=750ms, mobilenet_v2: p99=100ms}`)",
    )
    load: LoadSettings = Field(default=LoadSettings(), description="how probes offer load")
    inputs: InputData = Field(
        default=NORMAL,
        description="the input values every request sends: normal (standard normal, seeded), zeros, random "
        "(perf_analyzer 2.51's default random bytes) or file:PATH (.npz with an array per input name, or "
        ".npy for a model with one input; a batch row, or at least `load.batch` rows); the server's work "
        "depends on them",
    )
    search: SearchSettings = Field(default=SearchSettings(), description="how λ is searched")
    repeats: int = Field(
        default=1,
        ge=1,
        le=20,
        description="independent λ searches of each server, each on a fresh one: their spread gives λ a 90% "
        "interval (1: the search's own bracket, which leaves out run-to-run spread)",
    )
    trial: TrialSettings = Field(default=TrialSettings(), description="how each probe is measured and judged")
    price: PriceSettings = Field(default=PriceSettings(), description="the machines costs are priced on")
    telemetry_interval_s: float = Field(
        default=1.0, gt=0, description="seconds between telemetry samples (CPU, memory, Triton /metrics)"
    )

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

    @model_serializer(mode="wrap")
    def _lean(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`repeats: 1` and `inputs: normal` are left out: a run stored before they existed has the same spec,
        so it resumes."""
        data: dict[str, Any] = handler(self)
        if data.get("repeats") == 1:
            del data["repeats"]
        if data.get("inputs") == NORMAL:
            del data["inputs"]
        return data

    MODELS: ClassVar[int | None] = None  # a kind that compares exactly this many models says so
    PRICED: ClassVar[bool] = False  # a kind whose findings are priced on `price.machines` says so

    @model_validator(mode="after")
    def _named_models(self) -> Self:
        if self.MODELS is not None and len(self.models) != self.MODELS:
            count = {2: "two", 3: "three"}.get(self.MODELS, str(self.MODELS))
            raise ValueError(f"{self.kind} compares exactly {count} models, got {len(self.models)}")
        bases, keys = self.bases(), self.model_keys()
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"models: name used twice: {', '.join(twice)}")
        if isinstance(self.sla, dict):
            known("sla", self.sla, list(dict.fromkeys([*keys, *bases])))
            missing = [k for k, b in zip(keys, bases, strict=True) if k not in self.sla and b not in self.sla]
            if missing:
                raise ValueError(f"sla: per model, it must name every model; {', '.join(missing)} has none")
        return self

    def machine_refs(self) -> dict[str, str]:
        """Every machine id the file names, by where it names it: each must be in the price catalog."""
        return {f"price.machines.{i}": m for i, m in enumerate(self.price.machines)} if self.PRICED else {}

    def bases(self) -> list[str]:
        return [t.model.split(":", 1)[0] for t in self.models]

    def model_keys(self) -> list[str]:
        """How the models are named in results: the name given, else as tenants of one server (a repeated
        model gets -2, -3)."""
        return served_names(self.models)

    def key_of(self, ref: str) -> str | None:
        """The model a reference means: its name (key) or its spec as written (None: neither)."""
        keys = self.model_keys()
        if ref in keys:
            return ref
        return next((k for k, t in zip(keys, self.models, strict=True) if t.model == ref), None)

    def base_of(self, key: str) -> str:
        return (
            self.models[self.model_keys().index(key)].model.split(":", 1)[0]
            if key in self.model_keys()
            else key
        )

    def sla_of(self, model: str) -> SlaTarget:
        """A model's SLA (by its key or base): the one SLA, else its entry by name, else by base."""
        if isinstance(self.sla, str):
            return parse_sla(self.sla)
        return parse_sla(self.sla[model] if model in self.sla else self.sla[self.base_of(model)])


def known(section: str, named: Iterable[str], bases: list[str]) -> None:
    """Every model `section` names is one of the experiment's (the first that is not is the line)."""
    for name in named:
        if name not in bases:
            raise ValueError(f"{section}: {unknown('model', name, bases, 'the experiment has')}")


class SharedExperiment(ExperimentBase):
    """A kind that also runs the models sharing one server at request-rate weights."""

    share: dict[str, float] | None = Field(
        default=None,
        description="request-rate weight of each model on the shared server, e.g. "
        "`{resnet50: 1, mobilenet_v2: 3}`; default equal",
    )

    @model_validator(mode="after")
    def _share(self) -> Self:
        known("share", dict(self.share or {}), list(dict.fromkeys([*self.model_keys(), *self.bases()])))
        if self.share is not None and any(w <= 0 for w in self.share.values()):
            raise ValueError("share weights must be > 0")
        return self

    def weights(self) -> dict[str, float]:
        """Request-rate weight of each model key (default equal)."""
        share = self.share or {}
        return {k: share.get(k, share.get(self.base_of(k), 1.0)) for k in self.model_keys()}
