"""What a trial leaves behind, as the store keeps it: raw per-request records (every summary is a pure
function of them) and telemetry samples. Produced by loadgen and telemetry, kept by store, read by
reports; defined here so readers of the store never import the code that measures."""

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class RequestRecord:
    tenant: str
    intended_ns: int  # when the schedule meant to send it (monotonic clock); = send_ns in a closed loop
    send_ns: int  # when it was handed to the client
    done_ns: int  # when the response (or error) arrived
    ok: bool
    error: str | None = None  # error kind (e.g. UNAVAILABLE, timeout) when not ok

    @property
    def latency_ns(self) -> int:
        """Coordinated-omission-correct latency: from the intended send time."""
        return self.done_ns - self.intended_ns

    @property
    def service_ns(self) -> int:
        """Latency from the actual send, as tools without a schedule report it."""
        return self.done_ns - self.send_ns

    @property
    def lateness_ns(self) -> int:
        return self.send_ns - self.intended_ns


@dataclass(frozen=True)
class Sender:
    """One load-generator actor's part of a trial (Ray): where it ran, its requests, its CPU."""

    worker: int
    node: str
    hostname: str  # a sender on the measuring host uses its cores: its CPU is the measurement's own
    records: list[RequestRecord]
    cpu_ns: int


@dataclass
class TrialRecords:
    """Everything one load run produced; the measured window excludes warm-up and drain."""

    start_ns: int
    window_start_ns: int
    window_end_ns: int
    records: list[RequestRecord] = field(default_factory=list)
    loadgen_cpu_ns: int = 0  # CPU time the load generator itself used while sending
    offered_rps: float | None = None  # open loop: the scheduled rate over all tenants
    workers: int = 1
    measure_window_s: float = 1.0  # length of the stability windows the trial was judged on
    # Arrivals followed a schedule (open loop or trace): a window's count is the schedule's, not the
    # server's, so stability is judged on latency alone.
    scheduled: bool = False
    senders: list[Sender] = field(default_factory=list)  # Ray load actors, each judged on its own sends
    # Stopped before its rules' end because an SLA was certainly missed (loadgen.early_stop.Lost.figures):
    # its window is judged on the SLA and the load, not on stability it was not run to reach.
    stopped: dict[str, Any] | None = None

    @property
    def window_s(self) -> float:
        return (self.window_end_ns - self.window_start_ns) / 1e9

    def measured(self, records: list[RequestRecord] | None = None) -> list[RequestRecord]:
        """Requests meant to be sent inside the measured window: of all, or of `records` (one sender's)."""
        among = self.records if records is None else records
        return [r for r in among if self.window_start_ns <= r.intended_ns < self.window_end_ns]


class Sample(NamedTuple):
    """One measurement. t_ns is time.monotonic_ns, the clock of the load generator's request records.

    source: "process" (tenant's stub processes), "host", "triton" (/metrics; tenant = model, None for
    server gauges) or "gpu:<index>".
    """

    t_ns: int
    source: str
    tenant: str | None
    metric: str
    value: float
