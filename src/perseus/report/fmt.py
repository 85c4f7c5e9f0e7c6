"""How numbers and facts read in every report format: "-" for a missing or NaN number, signed savings,
the headline sentence, what a saving is against, the SLA and machine phrases, and the provenance facts."""

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perseus.config.inputs import NORMAL, describe_input_data
from perseus.core.interval import Estimate
from perseus.cost.saving import Alone
from perseus.experiments.results import ExperimentResults

MISSING = "-"
WEIGHTS_SENTENCE = (
    "Models use random weights because pretrained weights cannot be downloaded here; dense CNN inference "
    "cost does not depend on weight values."
)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def num(value: float | None, digits: int = 1) -> str:
    """A number with `digits` decimals, or "-" (never "nan" or "inf")."""
    return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else MISSING


def rate(value: float | None) -> str:
    return num(value, 1)


def ms(value: float | None) -> str:
    return num(value, 1)


def usd(value: float | None) -> str:
    return num(value, 3)


def ratio(value: float | None) -> str:
    return f"{value:.2f}×" if finite(value) else MISSING


def pct(value: float | None, signed: bool = False) -> str:
    """0.072 → "7.2%" (signed: "+7.2%")."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def speed(ops_s: tuple[float, float] | None) -> str:
    """The reference workload's speed at a trial's start and end (telemetry.speed), in M ops/s."""
    return MISSING if ops_s is None else f"{num(ops_s[0] / 1e6, 2)} → {num(ops_s[1] / 1e6, 2)}"


def host_text(
    steal_cores: float | None, speed_ops_s: tuple[float, float] | None, at_most: bool = False
) -> str:
    """How the host was while a trial ran: CPU steal, and the reference speed at its start and end.
    `at_most`: the steal is the largest of several trials' (a sweep's levels), said as `≤`."""
    known = steal_cores is not None and finite(steal_cores)
    steal = f"{'≤ ' if at_most else ''}{steal_cores:.2f} cores" if known else MISSING
    ops = MISSING if speed_ops_s is None else f"{speed(speed_ops_s)} M ops/s"
    return f"CPU steal {steal}; reference speed {ops}"


def saving_words(saving: float | None) -> str:
    """What a saving means in words; a negative one says so loudly."""
    if not finite(saving) or saving is None:
        return "no saving could be computed"
    if saving < 0:
        return f"sharing COSTS MORE by {abs(saving):.1%}"
    return f"sharing saves {saving:.1%}"


def span(est: Estimate | None, show: Callable[[float | None], str], sep: str = "–") -> str:
    """An interval as `low–high` (each end as `show` prints it); "-" when there is none: a figure taken
    as exact, or a search that found no rate above its λ infeasible (it ran out of probes rising)."""
    if est is None or not has_interval(est):
        return MISSING
    return f"{show(est.low)}{sep}{show(est.high)}"


def has_interval(est: Estimate) -> bool:
    return est.searches > 0 and est.high > est.low


def pct_span(est: Estimate | None) -> str:
    """A saving's interval, `-1.2% to +7.5%` (a dash between signed numbers would read as a minus)."""
    return span(est, lambda v: pct(v, signed=True), " to ")


def basis(est: Estimate) -> str:
    """Where an interval comes from, in a few words (as Estimate.kind says it was made)."""
    kind = est.kind
    if kind == "min-max":
        return f"min–max over {est.searches} measurements, not a confidence interval"
    if kind == "t90":
        return f"90% interval over {est.searches} searches"
    if kind == "bracket":
        return "search bracket only, run-to-run spread not measured: see --repeats"
    if kind == "fit90":
        return "90% interval of the curve fitted to one search's probes, run-to-run spread not measured"
    return "exact"


NO_SIGN = "its sign not established: one search, run-to-run spread unknown"


def sign_text(est: Estimate) -> str:
    """What the interval says of a saving's sign. A bracket alone (one search) says nothing of it: runs
    minutes apart on one host gave brackets that did not overlap."""
    if est.searches == 0:
        return ""
    if est.searches == 1:
        return NO_SIGN
    if est.spans_zero():
        return "not distinguishable from zero"
    return "above zero" if est.low > 0 else "below zero: sharing costs more"


def saving_interval_text(est: Estimate) -> str:
    """`+3.0% (-1.2% to +7.5%; 90% interval over 3 searches; not distinguishable from zero)`."""
    if not has_interval(est):
        return pct(est.value, signed=True)
    return f"{pct(est.value, signed=True)} ({pct_span(est)}; {basis(est)}; {sign_text(est)})"


@dataclass(frozen=True)
class Headline:
    text: str
    saving: float | None  # the saving it states, if it is about money


def saving_headline(saving: Estimate, where: str) -> Headline:
    value = saving.value
    said = f"costs {abs(value):.1%} more" if value < 0 else f"saves {value:.1%}"
    if not has_interval(saving):
        return Headline(f"Multi-tenant serving {said} {where}", value)
    bounds = pct_span(saving)
    if saving.searches == 1:
        said += f" ({bounds}; {NO_SIGN})"
    elif saving.spans_zero():
        said += f" — not distinguishable from zero ({bounds})"
    else:
        said += f" ({bounds})"
    return Headline(f"Multi-tenant serving {said} {where}; interval: {basis(saving)}", value)


def setting_text(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "defaults"


def knobs_text(setting: Mapping[str, Any]) -> str:
    """The knobs a model was served alone with: `instances=2, intra_op_threads=1`, or `default knobs`."""
    return setting_text(setting) if setting else "default knobs"


def alone_text(alone: Alone) -> str:
    """`mobilenet_v2 alone at instances=2, intra_op_threads=1: 309.2 (301.0–317.4) req/s`."""
    interval = span(alone.interval, rate)
    bounds = f" ({interval})" if interval != MISSING else ""
    return f"{alone.model} alone at {knobs_text(alone.setting)}: {rate(alone.rps)}{bounds} req/s"


def against_text(against: Mapping[str, Alone]) -> str:
    """What a saving is measured against: each model on a machine of its own at its best setting."""
    return "against " + "; ".join(alone_text(a) for a in against.values())


def sla_text(results: ExperimentResults) -> str:
    targets = set(results.sla.values())
    if len(targets) == 1:
        return f"SLA {targets.pop()}"
    return "SLA " + "; ".join(f"{m}: {t}" for m, t in results.sla.items()) if targets else "no SLA"


def _cpu_name(model: str) -> str:
    return " ".join(model.replace("(R)", "").replace("(TM)", "").split())


def machine_text(provenance: dict[str, Any]) -> str:
    """`AMD EPYC × 2 CPUs`, from the host facts the run stored."""
    host = provenance.get("host") or {}
    cpu = _cpu_name(str(host.get("cpu_model") or "unknown CPU"))
    cpus = host.get("logical_cpus")
    return f"{cpu} × {cpus} CPUs" if cpus else cpu


def trials_text(results: ExperimentResults) -> str:
    return f"{results.trials} trial{'s' if results.trials != 1 else ''} ({results.failed_trials} failed)"


def input_data(stored: object) -> str:
    """The input-data setting a run or trial stored (`inputs`); a run from before it existed sent normal."""
    if isinstance(stored, dict):  # a run's provenance: {"data": ..., "values": ..., [file facts]}
        stored = stored.get("data")
    return stored if isinstance(stored, str) and stored else NORMAL


def provenance_line(results: ExperimentResults) -> str:
    prov = results.provenance
    versions = prov.get("versions") or {}
    return (
        f"{machine_text(prov)}; tritonserver {versions.get('tritonserver') or MISSING}; "
        f"git {prov.get('git_sha') or MISSING}; weights: {prov.get('weights') or 'random'}; "
        f"inputs: {input_data(prov.get('inputs'))}"
    )


def provenance_facts(results: ExperimentResults) -> list[tuple[str, str]]:
    """(label, value) pairs for a provenance section; absent facts show "-"."""
    prov = results.provenance
    host = prov.get("host") or {}
    memory = host.get("memory_bytes")
    command = prov.get("command")
    facts = [
        ("host CPU", str(host.get("cpu_model") or MISSING)),
        (
            "logical / physical cores",
            f"{host.get('logical_cpus') or MISSING} / {host.get('physical_cpus') or MISSING}",
        ),
        ("CPUs allowed", _cpu_list(host.get("cpus_allowed"))),
        ("memory", f"{memory / 2**30:.1f} GiB" if isinstance(memory, int | float) else MISSING),
        ("CPU frequency governor", str(host.get("governor") or MISSING)),
        ("kernel", str(host.get("kernel") or MISSING)),
        ("OS", str(host.get("os") or MISSING)),
        ("hostname", str(host.get("hostname") or MISSING)),
    ]
    for name, version in (prov.get("versions") or {}).items():
        facts.append((name, str(version or "not installed")))
    facts += [
        ("git sha", str(prov.get("git_sha") or MISSING)),
        ("command", shlex.join(map(str, command)) if isinstance(command, list) else str(command or MISSING)),
        ("started", str(prov.get("started_at") or MISSING)),
        ("finished", str(prov.get("finished_at") or MISSING)),
        ("weights", str(prov.get("weights") or "random")),
        ("inputs", describe_input_data(input_data(prov.get("inputs")))),
    ]
    inputs = prov.get("inputs")
    if isinstance(inputs, dict) and inputs.get("sha256"):
        facts.append(("input file", f"{inputs.get('path')} (sha256 {inputs['sha256']})"))
    return facts


def _cpu_list(cpus: object) -> str:
    if not isinstance(cpus, list) or not cpus:
        return MISSING
    return ",".join(str(c) for c in cpus)
