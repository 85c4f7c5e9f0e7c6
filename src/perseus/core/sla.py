"""SLA targets ("p95=750ms"): a percentile and a latency bound; parsed once, used by config and loadgen."""

import math
import re
from dataclasses import dataclass

from perseus.core.errors import ConfigError
from perseus.core.units import parse_duration_ns

_TARGET = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*(?:[=<]=?|≤)\s*(.+)$")

# A percentile is judged on at least this many latencies above it: with 5 (100 latencies for a p95) a
# server whose true share above the bound is 10% passes a p95 6% of the time; with the 1 above it that 20
# latencies give, 39% of the time. One rule for an experiment's SLA and for bench's stability percentile.
TAIL_SAMPLES = 5


def samples_for(percentile: float, tail: int = TAIL_SAMPLES) -> int:
    """The fewest latencies that put `tail` of them above their p-th percentile (with TAIL_SAMPLES: 100
    for p95, 500 for p99, 10 for p50; with 1, the rule of runs stored before it: 20 for p95)."""
    return math.ceil(tail * 100 / (100 - percentile) - 1e-9)


@dataclass(frozen=True)
class SlaTarget:
    percentile: float  # e.g. 95.0
    threshold_ns: int
    tail: int = TAIL_SAMPLES  # latencies above the percentile it is judged on (a run keeps its own)

    @property
    def label(self) -> str:
        return f"p{self.percentile:g} ≤ {self.threshold_ns / 1e6:g} ms"

    @property
    def key(self) -> str:
        return f"p{self.percentile:g}_ms"

    @property
    def min_samples(self) -> int:
        """The fewest latencies this SLA's percentile is judged on (samples_for: 100 for p95, 500 for
        p99): fewer are no ground for saying the percentile met its bound."""
        return samples_for(self.percentile, self.tail)


def parse_sla(text: str) -> SlaTarget:
    """`p95=750ms`, `p99<=20ms`, `p99.9=1s` (no unit: ms), or a label as SlaTarget writes it."""
    match = _TARGET.match(text)
    if not match:
        raise ConfigError(f"cannot read SLA {text!r}: expected e.g. p95=750ms")
    percentile = float(match.group(1))
    if not 0 < percentile < 100:
        raise ConfigError(f"SLA percentile must be between 0 and 100, got {percentile:g}")
    threshold = parse_duration_ns(match.group(2), default_unit="ms")
    if threshold <= 0:
        raise ConfigError(f"SLA threshold must be > 0 in {text!r}")
    return SlaTarget(percentile, threshold)
