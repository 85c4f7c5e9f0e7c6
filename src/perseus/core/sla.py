"""SLA targets ("p95=750ms"): a percentile and a latency bound; parsed once, used by config and loadgen."""

import math
import re
from dataclasses import dataclass

from perseus.core.errors import ConfigError
from perseus.core.units import parse_duration_ns

_TARGET = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*(?:[=<]=?|≤)\s*(.+)$")


@dataclass(frozen=True)
class SlaTarget:
    percentile: float  # e.g. 95.0
    threshold_ns: int

    @property
    def label(self) -> str:
        return f"p{self.percentile:g} ≤ {self.threshold_ns / 1e6:g} ms"

    @property
    def key(self) -> str:
        return f"p{self.percentile:g}_ms"

    @property
    def min_samples(self) -> int:
        """The fewest latencies whose p-th percentile is not simply their largest (20 for p95, 100 for
        p99): fewer are no ground for saying the percentile met its bound."""
        return math.ceil(100 / (100 - self.percentile) - 1e-9)


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
