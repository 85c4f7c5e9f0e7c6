"""The fleet plan file (`perseus plan PLAN.yaml`): the tenants to serve (model, rate, SLA), the machine
types the plan may rent, and which stored profile runs say what each type can do."""

from collections import Counter
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from perseus.config.experiment import Strict
from perseus.config.loading import load_yaml
from perseus.core.errors import ConfigError
from perseus.core.sla import parse_sla


class PlanTenant(Strict):
    name: str | None = Field(
        default=None,
        min_length=1,
        description="names the tenant in the plan (default: model-1, model-2, ...)",
    )
    model: str = Field(min_length=1, description="a profiled model, e.g. resnet50")
    rate: float = Field(gt=0, description="req/s the tenant sends")
    sla: str = Field(description="its latency target, e.g. p95=100ms")

    @field_validator("sla")
    @classmethod
    def _parse(cls, value: str) -> str:
        try:
            parse_sla(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class ProfileRef(Strict):
    """A stored run that measured a machine type: a profile, or a frontier run (kind frontier: its two
    models' λ alone and its frontier points count as a pair's co-location data)."""

    run: int | str = Field(description="run id, or the name of the latest finished run")
    machine: str | None = Field(
        default=None, description="the machine type it ran on (required for a frontier run: it names none)"
    )


class PlanFile(Strict):
    name: str = Field(min_length=1, max_length=120, description="names the plan in its report")
    description: str = Field(default="", description="a sentence for the report")
    profiles: tuple[int | str | ProfileRef, ...] = Field(
        min_length=1,
        description="the stored profile runs to plan from, by run id or name (the latest finished run of "
        "that name), or `{run: ID, machine: TYPE}` for a frontier run; profiles of several machine types "
        "can be planned across (`perseus runs import`)",
    )
    machines: tuple[str, ...] = Field(
        default=(),
        description="price catalog ids of the machine types the plan may rent (default: every type profiled)",
    )
    catalog: Path | None = Field(default=None, description="price catalog YAML; default: the shipped one")
    extrapolate: Literal["none", "cores"] = Field(
        default="none",
        description="a listed type without a profile: none = not used; cores = λ scaled by vCPUs from the "
        "profiled type nearest in vCPUs, every such machine flagged (or --extrapolate cores)",
    )
    server_memory_gib: float = Field(
        default=1.0, ge=0, description="memory kept on each machine for the OS and tritonserver itself"
    )
    method: Literal["auto", "milp", "greedy"] = Field(
        default="auto",
        description="auto: the MILP for up to 60 tenants, else the greedy (first-fit decreasing)",
    )
    time_limit_s: float = Field(default=10.0, gt=0, le=3600, description="the MILP's time limit")
    validate_s: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="--validate: measured seconds per machine (after a warm-up of 3 s, or half this if less)",
    )
    tenants: tuple[PlanTenant, ...] = Field(
        min_length=1, description="the fleet: who sends what, under which SLA"
    )

    @model_validator(mode="after")
    def _names(self) -> Self:
        twice = sorted(n for n, c in Counter(self.tenant_names()).items() if c > 1)
        if twice:
            raise ValueError(f"tenants: name used twice: {', '.join(twice)}")
        return self

    def tenant_names(self) -> list[str]:
        counts: Counter[str] = Counter()
        names = []
        for tenant in self.tenants:
            if tenant.name is not None:
                names.append(tenant.name)
            else:
                counts[tenant.model] += 1
                names.append(f"{tenant.model}-{counts[tenant.model]}")
        return names


def load_plan(path: Path) -> PlanFile:
    return load_yaml(path, PlanFile)
