"""A stored trial's summary, typed: per-tenant latency summaries kept apart from the load generator's own
cost, Triton's server-side breakdown, per-tenant resource usage and telemetry notices, so no tenant name
(even one called `server` or `usage`) can collide with those blocks."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_TENANTS = "*"  # the summary over every tenant together (loadgen.ALL)
# What a trial's `host` block holds: cores other processes and the hypervisor (CPU steal) took while it
# ran, and the reference workload's speed (telemetry.speed) at its start and end. A trial stored before a
# figure existed lacks its key; readers show it as missing.
OTHER_CORES, STEAL_CORES = "other_cores", "steal_cores"
SPEED_START, SPEED_END = "host_speed_start_ops_s", "host_speed_end_ops_s"


def steal_of(host: Mapping[str, float]) -> float | None:
    """Cores the hypervisor took on average while the trial ran; None: not recorded."""
    return host.get(STEAL_CORES)


def speed_of(host: Mapping[str, float]) -> tuple[float, float] | None:
    """The reference workload's ops/s at the trial's start and end; None: not recorded."""
    start, end = host.get(SPEED_START), host.get(SPEED_END)
    return None if start is None or end is None else (start, end)


@dataclass(frozen=True)
class TrialSummary:
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)  # LatencySummary fields per tenant
    loadgen: dict[str, Any] = field(default_factory=dict)  # CPU cost, workers, requests sent
    server: dict[str, dict[str, Any]] = field(default_factory=dict)  # per tenant: Triton's own breakdown
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # per tenant: CPU and memory
    notices: list[str] = field(default_factory=list)
    host: dict[str, float] = field(default_factory=dict)  # OTHER_CORES, STEAL_CORES, SPEED_START, SPEED_END

    def tenant(self, name: str) -> dict[str, Any]:
        """One tenant's summary; empty when it served nothing."""
        return self.tenants.get(name, {})

    def value(self, tenant: str, key: str, default: Any = None) -> Any:
        return self.tenants.get(tenant, {}).get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenants": self.tenants,
            "loadgen": self.loadgen,
            "server": self.server,
            "usage": self.usage,
            "notices": self.notices,
            "host": self.host,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrialSummary":
        return cls(
            dict(data.get("tenants") or {}),
            dict(data.get("loadgen") or {}),
            dict(data.get("server") or {}),
            dict(data.get("usage") or {}),
            list(data.get("notices") or []),
            dict(data.get("host") or {}),
        )


BLOCKS = ("loadgen", "server", "usage", "notices", "host")


def from_legacy(data: Mapping[str, Any]) -> TrialSummary:
    """The layout before schema 4: tenants at the top level beside the blocks."""
    return TrialSummary.from_json(
        {"tenants": {k: v for k, v in data.items() if k not in BLOCKS}, **{k: data.get(k) for k in BLOCKS}}
    )
