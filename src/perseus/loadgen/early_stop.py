"""Stopping an open-loop trial as soon as one of its SLAs is certainly missed (TrialRules.stop_when_lost):
the latencies already above a tenant's bound outnumber what the percentile may have above it among every
request its schedule can still put in the measured window, so no later request can save it.

Why the stop cannot change a verdict. A tenant's SLA is judged on the latencies of its requests intended
inside the measured window (loadgen.summary): its p-th percentile is the k-th smallest of n, k = max(int(p
n/100 + 0.5), 1) as an HDR histogram ranks them (core.histogram), so it is above the bound exactly when
more than n − k of them are. n − k never falls as n grows, and n is at most the arrivals the trial's own
seeded schedule draws for the longest window (`planned`): once more than `planned − k(planned)` latencies
are known to exceed the bound, both the trial cut here and the trial run to its end miss it. Known to
exceed it: completed above it, or still unanswered and already older than it (its latency counts from
its intended send, so it can only grow). Only requests intended before the last whole window boundary
are counted (before now inside the first window): a trial left to run would have ended no earlier than
that boundary (it ends on whole windows, and not before now). An unanswered request may still fail, and
a failed one has no latency: at most `max_error_fraction` of the window may fail before the trial is
refused for its errors anyway, so that many unanswered ones are not counted. Every request due before
the stop is still sent (sender.send_open catches up), so each one counted is in the trial's records.
Unanswered requests are counted only where records reach the controller as they complete (one sender in
this process, no in-flight cap); elsewhere only answered latencies are."""

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perseus.core.sla import SlaTarget
from perseus.loadgen.records import RequestRecord
from perseus.loadgen.rules import TrialRules
from perseus.loadgen.spec import LoadSpec

Sla = SlaTarget | Mapping[str, SlaTarget] | None
SLA_LOST = "sla-lost"  # the reason an early stop gives (the only one so far)


def allowance(planned: int, percentile: float) -> int:
    """How many of `planned` latencies may be above the bound with the p-th percentile still within it:
    n − k, k = max(int(p n/100 + 0.5), 1), the rank core.histogram.values_at_percentiles reads (the same
    float expression, so the same k)."""
    return planned - max(int(percentile * planned / 100 + 0.5), 1)


@dataclass(frozen=True)
class Lost:
    """An SLA certainly missed: when the trial stopped, and the count it stopped on."""

    stopped_at_s: float  # measured seconds (after warm-up) when it stopped
    end_ns: int  # the measured window ends here: the requests counted were all intended before it
    tenant: str
    sla: str
    late: int  # latencies known to be above the bound
    allowed: int  # the most that may be, among `planned`
    planned: int  # the tenant's arrivals the schedule draws for the longest measured window

    def figures(self) -> dict[str, Any]:
        """As the trial's summary stores it (`loadgen.stopped_early`)."""
        return {
            "reason": SLA_LOST,
            "stopped_at_s": round(self.stopped_at_s, 3),
            "tenant": self.tenant,
            "sla": self.sla,
            "late": self.late,
            "allowed": self.allowed,
            "planned": self.planned,
        }


class SlaWatch:
    """Counts, while a trial runs, each SLA tenant's latencies known to be above its bound against what
    its planned arrivals allow. `arrivals_ns`: each tenant's intended send times from the trial's start
    (any order, any span: those outside the longest measured window are ignored). `outstanding`: count
    unanswered requests by their age, where every record reaches the controller as it completes and
    every request due before a stop is sent (one sender in this process, no in-flight cap: worker
    processes and Ray actors hand records over in batches, so a request answered in time may not have
    arrived yet; a cap may hold sends back past the stop)."""

    def __init__(
        self,
        targets: Mapping[str, SlaTarget],
        arrivals_ns: Mapping[str, Sequence[int]],
        rules: TrialRules,
        outstanding: bool = True,
    ) -> None:
        self.warmup_ns = round(rules.warmup_s * 1e9)
        self.longest_ns = round(rules.max_duration_s * 1e9)
        first, last = self.warmup_ns, self.warmup_ns + self.longest_ns
        self.times = {
            t: sorted(a for a in arrivals_ns.get(t, ()) if first <= a < last) for t in targets
        }  # each tenant's planned arrivals in the longest window, from the trial's start
        self.targets = {t: s for t, s in targets.items() if self.times[t]}  # a tenant sent nothing: no SLA
        planned = sum(len(v) for v in self.times.values())
        # Unanswered requests that may still fail and leave no latency: the most a window may hold unrefused.
        self.outstanding = outstanding
        self.may_fail = math.floor(rules.max_error_fraction * planned) if outstanding else math.inf

    def check(
        self, records: Sequence[RequestRecord], start_ns: int, width_ns: int, now_ns: int
    ) -> Lost | None:
        """The first tenant whose SLA is certainly lost by now, else None. `records` are the trial's so far,
        `width_ns` its windows' width (the measured window starts at start_ns + warm-up)."""
        window_ns = start_ns + self.warmup_ns
        if not self.targets or now_ns <= window_ns:
            return None
        whole = (now_ns - window_ns) // width_ns
        end_ns = window_ns + whole * width_ns if whole >= 1 else now_ns
        # Per tenant: its bound, and the time before which an unanswered request is older than it.
        edges = {t: (s.threshold_ns, min(end_ns, now_ns - s.threshold_ns)) for t, s in self.targets.items()}
        done_late = dict.fromkeys(edges, 0)  # answered, above the bound
        seen_aged = dict.fromkeys(edges, 0)  # answered (or failed), intended before the aged edge
        for r in records:  # one pass: the controller runs on the sender's loop
            edge = edges.get(r.tenant)
            if edge is not None and window_ns <= r.intended_ns < end_ns:
                bound, aged_ns = edge
                done_late[r.tenant] += r.ok and r.latency_ns > bound
                seen_aged[r.tenant] += r.intended_ns < aged_ns
        for tenant, target in self.targets.items():
            aged_ns = edges[tenant][1]
            times = self.times[tenant]
            due = bisect.bisect_left(times, aged_ns - start_ns) if aged_ns > window_ns else 0
            unanswered = max(0, due - seen_aged[tenant] - self.may_fail)
            planned = len(times)
            allowed = allowance(planned, target.percentile)
            late = done_late[tenant] + int(unanswered)
            if late > allowed:
                return Lost((now_ns - window_ns) / 1e9, end_ns, tenant, target.label, late, allowed, planned)
        return None


def targets_of(spec: LoadSpec, sla: Sla) -> dict[str, SlaTarget]:
    """Each of the spec's tenants' SLA: one for all, or each its own."""
    if sla is None:
        return {}
    if isinstance(sla, SlaTarget):
        return dict.fromkeys(spec.tenants, sla)
    return {t: s for t, s in sla.items() if t in spec.tenants}


def sla_watch(spec: LoadSpec, rules: TrialRules, sla: Sla) -> SlaWatch | None:
    """The watch of a trial whose rules ask for it, with an SLA and a schedule (open loop or trace); None
    otherwise (a closed loop's requests are not scheduled: nothing is due that could be outstanding).
    The schedule is drawn here, before the trial starts, from the seed its workers draw it from."""
    targets = targets_of(spec, sla)
    if not rules.stop_when_lost or spec.mode == "closed" or not targets:
        return None
    last_ns = round((rules.warmup_s + rules.max_duration_s) * 1e9)
    arrivals: dict[str, list[int]] = {}
    for worker in range(spec.workers):
        for arrival in spec.arrivals(worker):
            if arrival.t_ns >= last_ns:
                break
            arrivals.setdefault(arrival.tenant, []).append(arrival.t_ns)
    in_step = spec.workers == 1 and not spec.on_ray and spec.max_in_flight is None
    return SlaWatch(targets, arrivals, rules, outstanding=in_step)
