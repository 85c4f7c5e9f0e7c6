"""What stored trials say about their SLAs: whether a probe is feasible (every SLA met with no overload,
errors or late sends), its attempts judged together, and whether an attempt only doubts the measurement
(worth one more). Read by the searches that run probes and by the analyses that report them, so both
judge a probe the same way.

The rules are symmetric, so a probe's verdict leans towards no rate: an attempt in doubt is measured
again whichever way its SLAs came out, and the probe is judged on every attempt's latencies pooled (a
retry adds evidence; it never replaces what the first attempt saw); a FAILED attempt (the server broke)
says nothing of the rate and is measured again too. Each tenant's SLA percentile rests on the latencies
its rule asks for (core.sla.samples_for: 5 above the percentile), counted over the pool."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from perseus.core.errors import ConfigError
from perseus.core.histogram import decode, merged, values_at_percentiles
from perseus.core.reasons import BLOCKING, DOUBTS, REPLACED, RETRY_RULE, Why, kinds
from perseus.core.sla import SlaTarget, parse_sla
from perseus.store.db import TrialRow

FAILED = "failed"
# Blocking reasons about the measurement (the generator's sends were late): they refuse a probe only
# when every attempt had them; a late send only makes the server look slower, and the attempts without
# them are a measurement that was not in doubt.
DOUBTS_THAT_BLOCK = BLOCKING & DOUBTS
# Judged on the pool, not on each attempt: whether a tenant's percentile rests on enough latencies.
JUDGED_ON_POOL = frozenset({Why.TOO_FEW_LATENCIES})
# Reasons that say the server could not keep up: the probe's latency lies beyond any bound.
OVERLOAD = frozenset({Why.OVERLOADED, Why.QUEUE_GROWING})


@dataclass(frozen=True)
class TenantJudged:
    """One tenant of a probe, over every attempt judged."""

    requests: int | None  # latencies its SLA percentile was judged on (None: not stored)
    need: int | None  # the latencies its rule asks for (None: no SLA, or none stored)
    latency_ms: float  # at its SLA's percentile (NaN: unknown)
    p95_ms: float
    met: bool | None


@dataclass(frozen=True)
class Verdict:
    feasible: bool
    detail: str  # "ok", "ok (flagged: …)", or why not
    attempts: int  # attempts judged together (a FAILED one is left out)
    tenants: dict[str, TenantJudged]
    flagged: bool = False  # feasible, though an attempt judged was not VALID (its windows disagreed, …)
    refused: frozenset[Why] = frozenset()  # the kinds of reason that refused it, whatever its SLAs
    missed: tuple[str, ...] = ()  # tenants that missed their SLA (judged when nothing refused it)


def doubtful(trial: TrialRow) -> bool:
    """Worth one more attempt: FAILED (the server broke, which says nothing of the rate), or INVALID only
    for doubts about the measurement — whichever way its SLAs came out."""
    if trial.status == FAILED:
        return True
    return trial.status == "invalid" and bool(trial.reasons) and kinds(trial.reasons) <= DOUBTS


def probes(trials: Iterable[TrialRow]) -> list[list[TrialRow]]:
    """Experiment trials grouped into probes, in the order run: each the attempts of one key, in order."""
    found: dict[str, list[TrialRow]] = {}
    for trial in trials:
        if trial.key is not None:
            found.setdefault(trial.key.with_attempt(0).name(), []).append(trial)
    groups = [sorted(rows, key=_attempt) for rows in found.values()]
    return sorted(groups, key=lambda rows: rows[-1].id)


def _attempt(trial: TrialRow) -> int:
    return trial.key.attempt if trial.key is not None else 0


def judged(attempts: Sequence[TrialRow]) -> list[TrialRow]:
    """The attempts a probe is judged on: all but FAILED ones; of a probe stored before attempts were
    pooled, its last attempt alone, as it was judged then."""
    if any(a.spec.get(RETRY_RULE) == REPLACED for a in attempts):
        return [a for a in attempts[-1:] if a.status != FAILED]
    return [a for a in attempts if a.status != FAILED]


def feasible(trial: TrialRow, tenants: Iterable[str]) -> tuple[bool, str]:
    """One trial alone: every tenant met its SLA over the whole measured window, with no overload, errors
    or late sends. A trial whose windows only disagreed still counts (it is flagged): at a few dozen
    requests per window the windows of a steady queue differ by more than ±10% by chance, and the SLA is
    judged on all the window's requests together."""
    verdict = judge([trial], tenants)
    return verdict.feasible, verdict.detail


def judge(attempts: Sequence[TrialRow], tenants: Iterable[str]) -> Verdict:
    """A probe over its attempts (in order): feasible when no attempt judged was refused outright, no
    late-send doubt held in every one, and each tenant met its SLA on the latencies of them all."""
    names = list(tenants)
    used = judged(attempts)
    if not used:
        return Verdict(False, f"failed: {attempts[-1].reason}", 0, {}, refused=frozenset({Why.SERVER_FAULT}))
    refusing = [r for a in used for r in a.reasons if r.kind in BLOCKING - DOUBTS_THAT_BLOCK - JUDGED_ON_POOL]
    for kind in sorted(DOUBTS_THAT_BLOCK):
        if all(kind in kinds(a.reasons) for a in used):
            refusing += [r for r in used[-1].reasons if r.kind == kind]
    found = {t: _tenant(used, t) for t in names}
    refused = [r.text for r in refusing]
    # A tenant an attempt stopped early on, certainly missed, is judged missed on the latencies it has; and
    # then the probe needs no more of any tenant's to be judged not feasible.
    lost = {_lost(a) for a in used}
    certain = any(t in lost and j is not None and j.met is False for t, j in found.items())
    refused += (
        [] if certain else [_too_few(used[-1], t, j) for t, j in found.items() if j is not None and _short(j)]
    )
    why = kinds(refusing) | ({Why.TOO_FEW_LATENCIES} if len(refused) > len(refusing) else set())
    together = f"{len(used)} attempts together" if len(used) > 1 else ""
    judged_tenants = {t: j for t, j in found.items() if j is not None}
    if refused:
        return Verdict(
            False, _with("; ".join(refused), together), len(used), judged_tenants, refused=frozenset(why)
        )
    missed = [t for t, j in found.items() if j is None or not j.met]
    if missed:
        detail = "; ".join(_missed(used[-1], t, found[t]) for t in missed)
        return Verdict(False, _with(detail, together), len(used), judged_tenants, missed=tuple(missed))
    flags = [r.text for a in used for r in a.reasons if r.kind not in JUDGED_ON_POOL]  # the pool had enough
    flagged = any(a.status != "valid" for a in used)
    inside = "; ".join(p for p in (together, "flagged: " + "; ".join(flags) if flags else "") if p)
    return Verdict(True, f"ok ({inside})" if inside else "ok", len(used), judged_tenants, flagged)


def sla_latency(
    attempts: Sequence[TrialRow], verdict: Verdict, tenants: Iterable[str]
) -> tuple[float, float] | None:
    """Where a probe stood against its SLAs, for a fit of latency against rate (core.estimate): the SLA
    percentile's latency (ms) of the tenant nearest its bound (the highest latency / bound) and that
    bound. An overloaded probe (its queue grew), or one stopped early on a certain miss (its percentile
    rests on a cut trial), is +inf: beyond any bound. None when it was refused for another reason whatever
    its latencies (errors, too few requests, late sends: nothing to read), or a tenant's latency or SLA is
    unknown."""
    if not attempts:
        return None
    targets = {t: _target(attempts[-1].summary.value(t, "sla")) for t in tenants}
    if verdict.refused & OVERLOAD or any(_lost(a) for a in judged(attempts)):
        bounds = [t.threshold_ns / 1e6 for t in targets.values() if t is not None]
        return (math.inf, bounds[0]) if bounds else None
    if verdict.refused:
        return None
    worst: tuple[float, float] | None = None
    for tenant, target in targets.items():
        judged_tenant = verdict.tenants.get(tenant)
        if judged_tenant is None or target is None:
            return None
        seen, bound = judged_tenant.latency_ms, target.threshold_ns / 1e6
        if not (math.isfinite(seen) and seen > 0 and bound > 0):
            return None
        if worst is None or seen / bound > worst[0] / worst[1]:
            worst = (seen, bound)
    return worst


def _lost(trial: TrialRow) -> str | None:
    """The tenant whose SLA the trial stopped early on, certainly missed (loadgen.early_stop): judged
    missed on the latencies it has, however few; None when it ran to its end."""
    stopped = trial.summary.loadgen.get("stopped_early")
    return str(stopped["tenant"]) if isinstance(stopped, dict) and "tenant" in stopped else None


def latency_ms(attempts: Sequence[TrialRow], tenant: str, percentile: float) -> float:
    """A tenant's latency at any percentile over the attempts a probe is judged on (their histograms
    pooled); NaN when it has none."""
    parts = [a.summary.tenant(tenant) for a in judged(attempts) if tenant in a.summary.tenants]
    pool = _pool(parts)
    if pool is None:
        return _float(parts[-1].get(_stored_key(percentile))) if len(parts) == 1 else math.nan
    return values_at_percentiles(pool, [percentile])[0] / 1e6 if pool.get_total_count() else math.nan


def _stored_key(percentile: float) -> str:
    """A summary's key for a percentile's latency (p99.9 is stored as p99_9_ms)."""
    return f"p{percentile:g}_ms".replace(".", "_")


def _pool(parts: Sequence[Mapping[str, Any]]) -> HdrHistogram | None:
    """The parts' latencies in one histogram (HDR histograms merge exactly); None when there are none or
    one part was stored without its distribution."""
    histograms = [str(p.get("histogram") or "") for p in parts]
    return merged(decode(h) for h in histograms) if histograms and all(histograms) else None


def _with(detail: str, together: str) -> str:
    return f"{detail} ({together})" if together else detail


def _target(label: Any) -> SlaTarget | None:
    try:
        return parse_sla(str(label)) if label else None
    except ConfigError:  # a label this version does not read: judged on its verdict alone
        return None


def _tenant(used: list[TrialRow], tenant: str) -> TenantJudged | None:
    """The tenant over the attempts: its latencies pooled (their HDR histograms merge exactly), or as its
    one attempt stored them. None when it served nothing in any."""
    parts = [a.summary.tenant(tenant) for a in used if tenant in a.summary.tenants]
    if not parts:
        return None
    last = parts[-1]
    target = _target(last.get("sla"))
    need = last.get("sla_samples", target.min_samples if target is not None else None)
    counts = [p.get("requests") for p in parts]
    requests = sum(int(c) for c in counts if c is not None) if all(c is not None for c in counts) else None
    percentile = target.percentile if target is not None else 95.0
    if len(parts) == 1:
        met = last.get("sla_met")
        return TenantJudged(
            requests, need, _float(last.get(_stored_key(percentile))), _float(last.get("p95_ms")), met
        )
    pool = _pool(parts)
    if pool is None:  # a summary without its distribution: met only where every attempt met it
        met = all(p.get("sla_met") for p in parts) if target is not None else None
        return TenantJudged(requests, need, math.nan, math.nan, met)
    p95, latency = (v / 1e6 for v in values_at_percentiles(pool, [95.0, percentile]))
    met = None if target is None else bool(pool.get_total_count()) and latency * 1e6 <= target.threshold_ns
    return TenantJudged(requests, need, latency, p95, met)


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _short(judged: TenantJudged) -> bool:
    return judged.need is not None and judged.requests is not None and judged.requests < judged.need


def _too_few(trial: TrialRow, tenant: str, judged: TenantJudged) -> str:
    """A tenant's percentile rests on too few latencies to be judged (a p95 of 12 requests is their
    largest): a tenant offered a small share of a trial's load, whatever the trial's total."""
    label = trial.summary.value(tenant, "sla")
    return f"too few requests to judge {tenant}'s {label}: {judged.requests} (need {judged.need})"


def _missed(trial: TrialRow, tenant: str, judged: TenantJudged | None) -> str:
    if judged is None:
        return f"{tenant} served nothing"
    label = trial.summary.value(tenant, "sla")
    target = _target(label)
    if target is None:
        return f"{tenant} {label} missed"
    seen = judged.latency_ms
    shown = f" (p{target.percentile:g} {seen:.1f} ms)" if seen and not math.isnan(seen) else ""
    return f"{tenant} {label} missed{shown}"
