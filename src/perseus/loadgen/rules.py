"""Trial rules: warm-up, duration, measurement windows, stability, and the VALID / INVALID verdict."""

import itertools
import math
from dataclasses import dataclass

import numpy as np

from perseus.core.errors import ConfigError
from perseus.core.reasons import Reason, Why
from perseus.core.sla import samples_for
from perseus.loadgen.records import RequestRecord, TrialRecords


def split_s(total_s: float, parts: int) -> float:
    """total_s / parts, rounded down to whole ns: `parts` windows of it (measured in integer ns) must fit
    in total_s, or a trial capped at total_s ends one window short of the stability check."""
    return math.floor(total_s * 1e9 / parts) / 1e9


@dataclass(frozen=True)
class TrialRules:
    warmup_s: float = 2.0
    min_duration_s: float = 5.0  # measured time before a trial may stop as stable
    max_duration_s: float = 30.0  # measured time after which it stops regardless
    until_stable: bool = True  # False: run exactly max_duration_s
    window_s: float = 1.0  # the shortest window; widened to hold min_window_requests (see effective_window_s)
    min_window_requests: int = 100  # p95 of fewer samples is too noisy to judge stability; 0 = fixed windows
    stable_windows: int = 3  # K: the last K windows must agree (perf_analyzer uses 3)
    tolerance: float = 0.10  # ±10% on throughput and p95, like perf_analyzer's stability percentage
    min_requests: int = 20
    max_error_fraction: float = 0.01
    late_threshold_ms: float = 2.0  # a send this much after its intended time is late
    max_late_fraction: float = 0.01
    # ...and at least this many late sends: 2 of 120 is 1.7%, but two wake-ups the host delayed are not a
    # generator falling behind (latency counts from the intended time either way).
    min_late_sends: int = 5
    overload_tolerance: float = 0.05  # open loop: serving < (1 − this) × offered rate is overload
    # Open loop: a queue is growing when mean latency rises window after window by more than this share
    # of the time passing (arrivals ~2% over capacity add 0.02 s of wait per second). A relative rise
    # alone is not enough: three noisy windows at 50 ms rise by 10% one time in six by chance.
    queue_growth: float = 0.02
    # What stability compares latency on: "auto" (p95 when each window holds min_window_requests, else the
    # mean), "mean" (perf_analyzer's default), or a percentile such as "p95" (perf_analyzer --percentile).
    stability_latency: str = "auto"
    # Fewer completions than this in a judged window: stability cannot be judged at all (10 samples'
    # mean latency wanders more than ±10% by chance), which is said instead of "unstable". 0: no floor.
    min_stability_samples: int = 0
    # Each tenant completes at least this many requests in the measured window before a trial may stop as
    # stable (it stops at max_duration_s regardless): a tenant's p95 needs 100 latencies (core.sla.
    # samples_for), however small its share of the load. 0: no such floor.
    min_tenant_requests: int = 0
    # Open loop with SLAs: stop as soon as one is certainly missed, whatever the rest of the trial would
    # bring (loadgen/early_stop.py); the trial is judged as one that ran to its end and missed.
    stop_when_lost: bool = False

    def __post_init__(self) -> None:
        if self.stability_latency not in ("auto", "mean") and _percentile(self.stability_latency) is None:
            raise ConfigError(
                f"stability latency must be auto, mean or pN (e.g. p95), got {self.stability_latency!r}"
            )
        if self.warmup_s < 0 or self.window_s <= 0 or self.stable_windows < 1:
            raise ConfigError("warm-up must be ≥ 0, window > 0 and stable windows ≥ 1")
        if not 0 < self.min_duration_s <= self.max_duration_s:
            raise ConfigError(
                f"need 0 < min duration ≤ max duration, got {self.min_duration_s}, {self.max_duration_s}"
            )
        if not 0 < self.tolerance < 1:
            raise ConfigError("stability tolerance must be between 0 and 1")

    @classmethod
    def fixed(cls, duration_s: float, warmup_s: float) -> "TrialRules":
        """Run exactly duration_s after warm-up; stability is still judged on its last windows."""
        return cls(
            warmup_s=warmup_s,
            min_duration_s=duration_s,
            max_duration_s=duration_s,
            until_stable=False,
            window_s=split_s(duration_s, cls.stable_windows),
            min_window_requests=0,
        )

    def effective_window_s(self, rate_rps: float) -> float:
        """Windows long enough to hold min_window_requests at the rate seen during warm-up."""
        longest = split_s(self.max_duration_s, self.stable_windows)  # K windows must fit in a trial
        if self.min_window_requests <= 0 or rate_rps <= 0:
            return min(self.window_s, longest)
        return min(max(self.window_s, self.min_window_requests / rate_rps), longest)


@dataclass(frozen=True)
class WindowStat:
    completed: int
    throughput_rps: float
    tail_ms: float  # the percentile stability is judged on (p95 unless the rules name another)
    mean_ms: float = float("nan")


def _percentile(measure: str) -> float | None:
    """ "p99" → 99.0; None when `measure` is not a percentile in (0, 100)."""
    try:
        value = float(measure[1:]) if measure.startswith("p") else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < 100 else None


def window_stats(
    records: list[RequestRecord], window_start_ns: int, window_s: float, now_ns: int, percentile: float = 95.0
) -> list[WindowStat]:
    """Per fully elapsed window after warm-up: completions (by completion time), their latency at
    `percentile` and their mean latency."""
    width_ns = round(window_s * 1e9)
    count = max(0, (now_ns - window_start_ns) // width_ns)
    buckets: list[list[int]] = [[] for _ in range(count)]
    for record in records:
        if record.ok and record.done_ns >= window_start_ns:
            index = (record.done_ns - window_start_ns) // width_ns
            if index < count:
                buckets[index].append(record.latency_ns)
    return [
        WindowStat(
            len(b),
            len(b) / window_s,
            float(np.percentile(b, percentile, method="inverted_cdf")) / 1e6 if b else float("nan"),
            float(np.mean(b)) / 1e6 if b else float("nan"),
        )
        for b in buckets
    ]


def _agree(values: list[float], tolerance: float) -> bool:
    if any(v != v for v in values):  # NaN: an empty window
        return False
    mean = sum(values) / len(values)
    return mean > 0 and all(abs(v - mean) <= tolerance * mean for v in values)


def stats_percentile(rules: TrialRules) -> float:
    """The percentile window_stats computes for these rules (p95 unless they name another)."""
    return _percentile(rules.stability_latency) or 95.0


def latency_measure(stats: list[WindowStat], rules: TrialRules) -> str:
    """What stability compares latency on. A window's p95 over too few samples is one of its few slowest
    and cannot agree within ±10% by chance, so the mean (perf_analyzer's default) is compared instead:
    "auto" judges p95 when every window holds min_window_requests; "pN" when every window has at least
    TAIL_SAMPLES samples above its pN (core.sla.samples_for: 100 requests for p95, 500 for p99)."""
    last = stats[-rules.stable_windows :]
    if rules.stability_latency == "auto":
        return "p95" if all(w.completed >= rules.min_window_requests for w in last) else "mean"
    percentile = _percentile(rules.stability_latency)
    if percentile is None:
        return rules.stability_latency
    enough = all(w.completed >= samples_for(percentile) for w in last)
    return rules.stability_latency if enough else "mean"


def _latencies(stats: list[WindowStat], rules: TrialRules) -> list[float]:
    last = stats[-rules.stable_windows :]
    return [w.mean_ms if latency_measure(stats, rules) == "mean" else w.tail_ms for w in last]


def is_stable(stats: list[WindowStat], rules: TrialRules, open_loop: bool = False) -> bool:
    """The last K windows agree on latency, and (closed loop) on throughput. In an open loop a window's
    count is set by the arrival process, not the server — Poisson counts of a few dozen cannot agree
    within ±10% — so whether the server keeps up is judged by the overload check instead."""
    last = stats[-rules.stable_windows :]
    return (
        len(last) == rules.stable_windows
        and (open_loop or _agree([w.throughput_rps for w in last], rules.tolerance))
        and _agree(_latencies(stats, rules), rules.tolerance)
    )


def should_stop(
    elapsed_measured_s: float, stats: list[WindowStat], rules: TrialRules, open_loop: bool = False
) -> bool:
    if elapsed_measured_s >= rules.max_duration_s:
        return True
    return (
        rules.until_stable
        and elapsed_measured_s >= rules.min_duration_s
        and is_stable(stats, rules, open_loop)
    )


def late_sends(records: list[RequestRecord], rules: TrialRules) -> int:
    """How many of these sends left more than the rules' threshold after their intended time."""
    return sum(1 for r in records if r.lateness_ns > rules.late_threshold_ms * 1e6)


def _late(measured: list[RequestRecord], rules: TrialRules) -> tuple[float, int] | None:
    """The share and count of sends that were late, when more than the rules allow; None when they kept up."""
    late = late_sends(measured, rules)
    if measured and late / len(measured) > rules.max_late_fraction and late >= rules.min_late_sends:
        return late / len(measured), late
    return None


def _late_text(fraction: float, rules: TrialRules) -> str:
    return f"{fraction:.1%} of sends were more than {rules.late_threshold_ms:g} ms late"


def verdict(trial: TrialRecords, rules: TrialRules) -> tuple[str, list[Reason]]:
    """VALID, or INVALID with every reason that applies."""
    reasons: list[Reason] = []
    measured = trial.measured()
    ok = [r for r in measured if r.ok]
    failed = len(measured) - len(ok)
    stats = window_stats(
        trial.records,
        trial.window_start_ns,
        trial.measure_window_s,
        trial.window_end_ns,
        stats_percentile(rules),
    )
    # A trial stopped because an SLA was certainly lost (loadgen.early_stop) is judged as one that ran to
    # its end and missed: not on a minimum of requests or on stable windows, which only a pass needs.
    lost = trial.stopped is not None
    if len(ok) < rules.min_requests and not lost:
        reasons.append(
            Reason(
                Why.TOO_FEW_REQUESTS,
                f"too few requests: {len(ok)} completed in the window (minimum {rules.min_requests})",
                {"completed": len(ok), "minimum": rules.min_requests},
            )
        )
    if measured and failed / len(measured) > rules.max_error_fraction:
        reasons.append(
            Reason(
                Why.TOO_MANY_ERRORS,
                f"too many errors: {failed} of {len(measured)} requests failed",
                {"failed": failed, "requests": len(measured)},
            )
        )
    late = _late(measured, rules)
    if late is not None:
        fraction, count = late
        reasons.append(
            Reason(
                Why.GENERATOR_BEHIND,
                f"generator fell behind: {_late_text(fraction, rules)}",
                {"late_fraction": fraction, "late": count, "threshold_ms": rules.late_threshold_ms},
            )
        )
    for sender in trial.senders:
        late = _late(trial.measured(sender.records), rules)
        if late is not None:
            fraction, count = late
            reasons.append(
                Reason(
                    Why.ACTOR_BEHIND,
                    f"load actor {sender.worker} on {sender.node} fell behind: {_late_text(fraction, rules)}",
                    {
                        "worker": sender.worker,
                        "node": sender.node,
                        "late_fraction": fraction,
                        "late": count,
                        "threshold_ms": rules.late_threshold_ms,
                    },
                )
            )
    if trial.offered_rps and measured:
        # Completions vs arrivals in the same window: a server that keeps up completes as many as arrive.
        # (Against the nominal rate, a Poisson window that happened to get fewer arrivals looks overloaded.)
        window = (trial.window_start_ns, trial.window_end_ns)
        completed = sum(1 for r in trial.records if r.ok and window[0] <= r.done_ns < window[1])
        if completed < (1 - rules.overload_tolerance) * len(measured):
            served, sent = completed / trial.window_s, len(measured) / trial.window_s
            reasons.append(
                Reason(
                    Why.OVERLOADED,
                    f"overloaded: served {served:.1f} req/s of {sent:.1f} sent "
                    f"({trial.offered_rps:.1f} offered)",
                    {"served_rps": served, "sent_rps": sent, "offered_rps": trial.offered_rps},
                )
            )
    growing = [w.mean_ms for w in stats[-rules.stable_windows :]]
    if (
        trial.offered_rps
        and len(growing) == rules.stable_windows > 1
        and all(b > a for a, b in itertools.pairwise(growing))
        and growing[-1] > (1 + rules.tolerance) * growing[0]
        and growing[-1] - growing[0] > rules.queue_growth * (len(growing) - 1) * trial.measure_window_s * 1e3
    ):
        # A queue that grows window after window is overload even while completions keep pace so far.
        reasons.append(
            Reason(
                Why.QUEUE_GROWING,
                "overloaded: latency grows window after window (mean ms "
                + ", ".join(f"{v:.1f}" for v in growing)
                + ")",
                {"mean_ms": growing},
            )
        )
    fewest = min((w.completed for w in stats[-rules.stable_windows :]), default=0)
    if lost:
        pass
    elif len(stats) >= rules.stable_windows and fewest < rules.min_stability_samples:
        reasons.append(
            Reason(
                Why.WINDOW_TOO_FEW,
                f"too few requests a window to judge stability: {fewest} "
                f"(need {rules.min_stability_samples}); measure longer windows",
                {"fewest": fewest, "need": rules.min_stability_samples},
            )
        )
    elif len(stats) >= rules.stable_windows and not is_stable(
        stats, rules, trial.scheduled or trial.offered_rps is not None
    ):
        last = stats[-rules.stable_windows :]
        measure = latency_measure(stats, rules)
        latencies = _latencies(stats, rules)
        reasons.append(
            Reason(
                Why.UNSTABLE,
                "unstable: the last {} windows differ by more than ±{:.0%} (req/s {}; {} ms {})".format(
                    rules.stable_windows,
                    rules.tolerance,
                    ", ".join(f"{w.throughput_rps:.1f}" for w in last),
                    measure,
                    ", ".join(f"{v:.1f}" for v in latencies),
                ),
                {
                    "tolerance": rules.tolerance,
                    "rps": [w.throughput_rps for w in last],
                    "measure": measure,
                    "latency_ms": latencies,
                },
            )
        )
    elif len(stats) < rules.stable_windows:
        reasons.append(
            Reason(
                Why.TOO_SHORT,
                f"too short to judge stability: {len(stats)} of {rules.stable_windows} windows",
                {"windows": len(stats), "need": rules.stable_windows},
            )
        )
    return ("invalid" if reasons else "valid"), reasons
