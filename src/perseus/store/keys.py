"""The typed key every experiment trial is stored under: which placement (server) it ran on, what it was
for, and what it offered. Written by the kind that plans the trial and read back by its analysis as the
same value; the trial's name is derived from the key (unique within a run) and is never parsed."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Scalar = str | int | float | bool | None
RATE_DIGITS = 4  # offered rates name a trial to 0.1 mHz: a re-run computes exactly the same rates


def _scalars(values: Mapping[str, Any], what: str) -> dict[str, Scalar]:
    bad = sorted(k for k, v in values.items() if not isinstance(v, str | int | float | bool | type(None)))
    if bad:
        raise TypeError(f"{what} must be plain values (str, number, bool, None): {', '.join(bad)}")
    return dict(values)


@dataclass(frozen=True)
class Placement:
    """One server of an experiment: its role ("dedicated", "shared", "pair", "copies", ...), the experiment
    models it serves as which tenant (in the server's order), and the settings that set it apart."""

    role: str
    tenants: tuple[tuple[str, str], ...]  # (server tenant name, experiment model key), by tenant name
    setting: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Sorted by tenant name: the same server is the same key whichever order it was described in.
        object.__setattr__(self, "tenants", tuple(sorted((str(t), str(m)) for t, m in self.tenants)))
        object.__setattr__(self, "setting", _scalars(self.setting, "placement settings"))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for _, m in self.tenants)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.tenants)

    def model_of(self, tenant: str) -> str:
        return dict(self.tenants).get(tenant, tenant)

    def tenant_of(self, model: str) -> str | None:
        return next((t for t, m in self.tenants if m == model), None)

    def label(self) -> str:
        """`dedicated resnet50`, `shared a+b (instances=2, pinning=split)`: for folders and progress."""
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.setting.items()))
        return f"{self.role} {'+'.join(self.models)}" + (f" ({extra})" if extra else "")

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "tenants": [list(p) for p in self.tenants], "setting": dict(self.setting)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Placement":
        return cls(str(data["role"]), tuple(tuple(p) for p in data["tenants"]), data.get("setting") or {})


@dataclass(frozen=True)
class TrialKey:
    """A trial's identity: placement, purpose ("estimate", "peak", "qos", ...), the purpose's parameters
    (e.g. fraction=0.5), the rates offered per tenant, and which attempt (retries of unstable probes)."""

    placement: Placement
    purpose: str
    params: Mapping[str, Scalar] = field(default_factory=dict)
    offered: Mapping[str, float] = field(default_factory=dict)
    attempt: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _scalars(self.params, "trial parameters"))
        object.__setattr__(self, "offered", {t: float(r) for t, r in sorted(self.offered.items())})

    def is_for(self, placement: Placement, purpose: str, **params: Scalar) -> bool:
        """Same placement and purpose, and these parameters (others may differ)."""
        return (
            self.placement == placement
            and self.purpose == purpose
            and all(self.params.get(k) == v for k, v in params.items())
        )

    def name(self) -> str:
        """Unique within a run and stable across runs of the same experiment; readable, never parsed."""
        params = ",".join(f"{k}={_show(v)}" for k, v in sorted(self.params.items()))
        offered = ",".join(f"{t}={r:.{RATE_DIGITS}f}" for t, r in self.offered.items())
        extra = json.dumps(dict(self.placement.setting), sort_keys=True) if self.placement.setting else ""
        tenants = "+".join(f"{t}:{m}" for t, m in self.placement.tenants)
        parts = [f"{self.placement.role}[{tenants}]{extra}", f"{self.purpose}({params})", offered]
        return "|".join(parts) + (f"|attempt {self.attempt}" if self.attempt else "")

    def with_attempt(self, attempt: int) -> "TrialKey":
        return TrialKey(self.placement, self.purpose, self.params, self.offered, attempt)

    def to_json(self) -> dict[str, Any]:
        return {
            "placement": self.placement.to_json(),
            "purpose": self.purpose,
            "params": dict(self.params),
            "offered": dict(self.offered),
            "attempt": self.attempt,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrialKey":
        return cls(
            Placement.from_json(data["placement"]),
            str(data["purpose"]),
            data.get("params") or {},
            {str(t): float(r) for t, r in (data.get("offered") or {}).items()},
            int(data.get("attempt", 0)),
        )


def _show(value: Scalar) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
