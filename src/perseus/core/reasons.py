"""Why a trial is not VALID, typed: a kind and its figures (stored as JSON with the sentence a report
prints), and what each kind means to a probe: it refuses the probe, only flags it, or doubts the
measurement (worth one more attempt). Written by loadgen's verdict and orchestrate's trial, read by the
store's judge and the kinds' analyses; nobody matches a reason by its words."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from perseus.core.sla import TAIL_SAMPLES

Figure = float | int | str | list[float]


class Why(StrEnum):
    TOO_FEW_REQUESTS = "too-few-requests"  # the whole trial completed fewer than the rules' minimum
    TOO_FEW_LATENCIES = "too-few-latencies"  # a tenant's SLA percentile rests on too few of its latencies
    WINDOW_TOO_FEW = "window-too-few"  # too few completions a window to judge stability
    TOO_SHORT = "too-short"  # fewer windows than stability is judged on
    TOO_MANY_ERRORS = "too-many-errors"
    GENERATOR_BEHIND = "generator-behind"  # the load generator's sends were late
    ACTOR_BEHIND = "actor-behind"  # one Ray load actor's sends were late
    OVERLOADED = "overloaded"  # completions fell behind arrivals
    QUEUE_GROWING = "queue-growing"  # open loop: mean latency rises window after window
    UNSTABLE = "unstable"  # the last windows disagree
    HOST_BUSY = "host-busy"  # other processes (of a local server's host) or the hypervisor (steal) took CPU
    SERVER_FAULT = "server-fault"  # the server or a stub died: the trial is FAILED
    NODE_LOST = "node-lost"  # the Ray node measuring it was lost: FAILED
    OTHER = "other"  # a stored sentence this version does not read (kept as it was; refuses nothing)


# Reasons that refuse a probe however its SLAs came out.
BLOCKING = frozenset(
    {
        Why.TOO_FEW_REQUESTS,
        Why.TOO_FEW_LATENCIES,
        Why.WINDOW_TOO_FEW,
        Why.TOO_SHORT,
        Why.TOO_MANY_ERRORS,
        Why.GENERATOR_BEHIND,
        Why.ACTOR_BEHIND,
        Why.OVERLOADED,
        Why.QUEUE_GROWING,
    }
)
# Reasons that doubt the measurement rather than the server: windows that disagree, sends the host held
# back (on a 2-core host the server's threads take the generator's wake-ups now and then), other
# processes taking the server's CPU. A trial with no other reason is measured once more, whichever way
# its SLAs came out, and judged together with the first attempt.
DOUBTS = frozenset({Why.UNSTABLE, Why.GENERATOR_BEHIND, Why.ACTOR_BEHIND, Why.HOST_BUSY})

# How the attempts of one probe are judged, in each experiment trial's spec under RETRY_RULE: POOLED (this
# version: every attempt together, their latencies pooled) or REPLACED (trials stored before it: the last
# attempt alone, as they were judged when measured).
RETRY_RULE, POOLED, REPLACED = "retry", "pooled", "replaced"
# A run's judging rules, in its provenance: how many latencies above an SLA percentile its probes need
# (`tail_samples`, core.sla) and how their attempts are judged. A resumed run keeps the rules it began with,
# so its searches go on as they started (runs stored before these rules: 1 above, replaced).
JUDGING = "judging"


def judging(tail_samples: int = TAIL_SAMPLES, retry: str = POOLED) -> dict[str, Any]:
    return {"tail_samples": tail_samples, RETRY_RULE: retry}


def tail_samples_of(provenance: Mapping[str, Any]) -> int:
    """The latencies above an SLA percentile a run's probes need, as its provenance says (this version's
    when it says nothing)."""
    rules = provenance.get(JUDGING) or {}
    return int(rules.get("tail_samples", TAIL_SAMPLES))


@dataclass(frozen=True)
class Reason:
    """One reason a trial is not VALID: its kind, the figures it rests on, and the sentence shown."""

    kind: Why
    text: str
    figures: Mapping[str, Figure] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "text": self.text, "figures": dict(self.figures)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Reason":
        try:
            kind = Why(str(data.get("kind")))
        except ValueError:  # a kind a later version wrote: shown, and judged as nothing
            kind = Why.OTHER
        return cls(kind, str(data.get("text", "")), dict(data.get("figures") or {}))


def text_of(reasons: Iterable[Reason]) -> str | None:
    """The reasons as one line, as stored beside them and printed: `a; b`, or None when there are none."""
    return "; ".join(r.text for r in reasons) or None


def reasons_json(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [r.to_json() for r in reasons]


def reasons_from_json(data: Iterable[Mapping[str, Any]] | None) -> tuple[Reason, ...]:
    return tuple(Reason.from_json(item) for item in data or ())


def kinds(reasons: Iterable[Reason]) -> set[Why]:
    return {r.kind for r in reasons}
