"""What an experiment found, as plain values a report renders: peaks, Fig 1, the frontier, QoS curves,
interference, knob settings. Built from stored trials by cost.analysis; never measured here."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Probe:
    """One trial of a search: the offered rate(s), what came back, and whether it counted as feasible."""

    trial_id: int
    name: str
    offered_rps: dict[str, float]  # per tenant
    served_rps: dict[str, float]
    p95_ms: dict[str, float]
    qos_satisfaction: dict[str, float]
    status: str  # valid | invalid | failed
    feasible: bool
    reason: str | None


@dataclass(frozen=True)
class Peak:
    """λ: the highest offered rate found feasible (VALID and every SLA met), with how it was found."""

    label: str  # e.g. "resnet50 dedicated", "shared (equal share)"
    rates_rps: dict[str, float]  # per tenant at the peak (one entry when dedicated)
    p95_ms: dict[str, float]
    method: str  # bisect | ramp
    probes: list[Probe]

    @property
    def total_rps(self) -> float:
        return sum(self.rates_rps.values())


@dataclass(frozen=True)
class CostLine:
    """$ per 1M inferences of one placement on one priced machine."""

    placement: str  # "resnet50 dedicated", "shared"
    machine: str
    price_usd_per_h: float
    throughput_rps: float
    usd_per_1m: float


@dataclass(frozen=True)
class Fig1:
    """Paper Fig 1: each model's λ alone vs the models sharing one server."""

    models: list[str]
    dedicated: dict[str, Peak]
    shared: Peak
    saving: float  # 1 − 1/Σ r_i/λ_i at the shared peak; negative: sharing loses
    costs: list[CostLine]


@dataclass(frozen=True)
class FrontierPoint:
    rates_rps: dict[str, float]  # (r_A, r_B)
    saving: float
    source: str  # "dedicated" (an axis end), "measured" (A held at a fraction of λ_A) or "shared peak"


@dataclass(frozen=True)
class Fig2:
    """Paper Fig 2: feasible (r_A, r_B) pairs with A held at fractions of λ_A, and the saving at each."""

    models: tuple[str, str]
    peaks: dict[str, float]
    points: list[FrontierPoint]
    max_saving: float


@dataclass(frozen=True)
class QosPoint:
    offered_rps: float
    fraction_of_peak: float
    satisfaction: float  # share of requests within the SLA bound (errors count as misses)
    p95_ms: float
    sla_met: bool


@dataclass(frozen=True)
class QosCurve:
    """VELTAIR: QoS satisfaction vs offered load for one tenant, alone or co-located with the others."""

    tenant: str
    placement: str  # alone | co-located
    sla: str
    points: list[QosPoint]


@dataclass(frozen=True)
class Slowdown:
    """How much co-location hurts `victim`: p95 with the others at the same offered rate vs alone."""

    victim: str
    aggressors: list[str]  # the co-located tenants (N−1 copies of itself for the copies test)
    pinned: bool
    offered_rps: float
    p95_alone_ms: float
    p95_together_ms: float
    peak_alone_rps: float | None = None
    peak_together_rps: float | None = None

    @property
    def p95_ratio(self) -> float:
        return self.p95_together_ms / self.p95_alone_ms if self.p95_alone_ms > 0 else float("nan")

    @property
    def peak_ratio(self) -> float | None:
        if self.peak_alone_rps and self.peak_together_rps is not None:
            return self.peak_together_rps / self.peak_alone_rps
        return None


@dataclass(frozen=True)
class Interference:
    pairs: list[Slowdown]  # one per ordered pair (victim, aggressor)
    copies: list[Slowdown]  # N copies of one model, with and without pinning


@dataclass(frozen=True)
class KnobRow:
    setting: dict[str, Any]  # e.g. {"instances": 2, "dynamic_batching": True, "pinning": "split"}
    dedicated_rps: dict[str, float]
    shared_rps: dict[str, float]
    saving: float | None  # None when no shared rate met the SLAs
    sla_met: bool


@dataclass(frozen=True)
class Knobs:
    rows: list[KnobRow]
    best: KnobRow | None  # the feasible setting with the largest saving


@dataclass(frozen=True)
class ExperimentResults:
    """Everything a report shows for one run; sections an experiment did not measure stay empty."""

    run_id: int
    name: str
    kind: str
    status: str  # done | failed | interrupted | running
    reason: str | None
    sla: dict[str, str]  # per tenant, e.g. {"resnet50": "p95 ≤ 750 ms"}
    provenance: dict[str, Any]
    spec: dict[str, Any]
    peaks: list[Peak] = field(default_factory=list)
    fig1: Fig1 | None = None
    fig2: Fig2 | None = None
    qos: list[QosCurve] = field(default_factory=list)
    interference: Interference | None = None
    knobs: Knobs | None = None
    trials: int = 0
    failed_trials: int = 0
    warnings: list[str] = field(default_factory=list)
