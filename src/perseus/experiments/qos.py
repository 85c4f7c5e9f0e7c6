"""Kind `qos-sweep` (VELTAIR): QoS satisfaction (share of requests within the SLA bound) vs offered load,
as fractions of each model's λ, alone and with the models co-located on one server."""

import math
import statistics
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from perseus.config.experiment import ExperimentBase, Strict
from perseus.experiments.analysis import Peak, dedicated_found, offered, probes_of
from perseus.experiments.lab import Lab, Server
from perseus.experiments.placements import dedicated, dedicated_labels, dedicated_peaks, shared
from perseus.store import Placement, TrialRow
from perseus.store.judge import judge, judged

NAME = "qos-sweep"
REPORT = "perseus.report.kinds.qos"
QOS = "qos"


class QosSettings(Strict):
    fractions: tuple[float, ...] = Field(
        default=(0.25, 0.5, 0.75, 0.9, 1.0, 1.1),
        min_length=1,
        description="offered load as fractions of each tenant's λ alone",
    )


class Settings(ExperimentBase):
    kind: Literal["qos-sweep"]
    qos: QosSettings = Field(default=QosSettings(), description="the offered loads measured")


@dataclass(frozen=True)
class QosPoint:
    offered_rps: float
    fraction_of_peak: float
    satisfaction: float  # share of requests within the SLA bound (errors count as misses)
    p95_ms: float
    sla_met: bool


@dataclass(frozen=True)
class QosCurve:
    """QoS satisfaction vs offered load for one model, alone or co-located with the others."""

    tenant: str
    placement: str  # alone | co-located
    sla: str
    points: list[QosPoint]


@dataclass(frozen=True)
class Findings:
    peaks: dict[str, Peak]
    curves: list[QosCurve]


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def plan(experiment: ExperimentBase) -> list[str]:
    """Each model alone (its λ, then the sweep on the same server), then the sweep co-located."""
    return [*dedicated_labels(experiment), shared(experiment).label()]


def run(experiment: ExperimentBase, lab: Lab) -> None:
    exp = _settings(experiment)
    fractions = exp.qos.fractions

    def sweep_alone(server: Server, name: str, peak: float) -> None:
        for f in fractions:
            server.trial({name: f * peak}, QOS, fraction=f)

    peaks = dedicated_peaks(exp, lab, then=sweep_alone)
    where = shared(exp)
    lab.phase(where.label())
    with lab.serve(where, exp.models) as server:
        for f in fractions:
            server.trial({t: f * peaks[where.model_of(t)] for t in where.names}, QOS, fraction=f)


def _curves(trials: list[TrialRow], exp: Settings, where: Placement, placement: str) -> list[QosCurve]:
    """Each load's point per model, over every attempt of its trial (a retry of one in doubt is judged
    with it, latencies pooled, as a probe is)."""
    points: dict[str, list[QosPoint]] = {}
    for fraction in exp.qos.fractions:
        for attempts in probes_of(trials, where, QOS, fraction=fraction):
            used = judged(attempts) or attempts[-1:]
            for tenant, rate in offered(attempts[-1]).items():
                seen = judge(attempts, [tenant]).tenants.get(tenant)
                shares = [float(a.summary.value(tenant, "qos_satisfaction") or 0.0) for a in used]
                points.setdefault(where.model_of(tenant), []).append(
                    QosPoint(
                        rate,
                        fraction,
                        statistics.fmean(shares),
                        seen.p95_ms if seen is not None else math.nan,
                        bool(seen is not None and seen.met),
                    )
                )
    return [QosCurve(m, placement, exp.sla_of(m).label, pts) for m, pts in points.items()]


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    exp = _settings(experiment)
    peaks = dedicated_found(trials, exp)
    curves = [c for k in peaks for c in _curves(trials, exp, dedicated(exp, k), "alone")]
    return Findings(peaks, curves + _curves(trials, exp, shared(exp), "co-located"))
