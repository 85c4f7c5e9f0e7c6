"""The price catalog: priced machine types ($/h, vCPUs, memory, GPUs, where the price came from, and when).

The shipped catalog is `prices.yaml` beside this file; a user's own file has the same shape.
"""

from collections import Counter
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from perseus.config.loading import read_yaml, validation_line
from perseus.core.errors import ConfigError
from perseus.core.names import unknown

PACKAGED = "prices.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gpu(_Strict):
    model: str = Field(min_length=1, description="e.g. NVIDIA T4")
    count: int = Field(ge=1, description="how many of them")


class Machine(_Strict):
    """One machine type at one price; the price is only as good as its source and date."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="what experiments refer to")
    provider: str = Field(min_length=1, description="gcp, aws, azure, ...")
    name: str = Field(min_length=1, description="the provider's name of the machine type")
    region: str = Field(min_length=1, description="where the price applies, e.g. us-central1")
    pricing: Literal["on-demand", "spot", "reserved"] = Field(
        default="on-demand", description="the price model"
    )
    usd_per_h: float = Field(gt=0, description="US dollars per hour")
    vcpus: int = Field(ge=1, description="virtual CPUs")
    memory_gib: float = Field(gt=0, description="memory in GiB")
    gpus: tuple[Gpu, ...] = Field(default=(), description="attached GPUs")
    source: str = Field(pattern=r"^https?://\S+$", description="the provider's pricing page")
    as_of: date = Field(description="when the price was taken")
    notes: str = Field(default="", description="anything a reader of the price should know")

    @property
    def label(self) -> str:
        """Short human name, e.g. `gcp n2-standard-2 (us-central1, on-demand)`."""
        gpus = " + ".join(f"{g.count}× {g.model}" for g in self.gpus)
        return f"{self.provider} {self.name}{' + ' + gpus if gpus else ''} ({self.region}, {self.pricing})"


class Catalog(_Strict):
    machines: tuple[Machine, ...] = Field(min_length=1, description="the priced machine types")
    currency: Literal["USD"] = Field(default="USD", description="every price's currency")

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        twice = sorted(i for i, n in Counter(m.id for m in self.machines).items() if n > 1)
        if twice:
            raise ValueError(f"machine id listed twice: {', '.join(twice)}")
        return self

    def ids(self) -> list[str]:
        return [m.id for m in self.machines]

    def find(self, machine_id: str) -> Machine | None:
        return next((m for m in self.machines if m.id == machine_id), None)

    def get(self, machine_id: str) -> Machine:
        machine = self.find(machine_id)
        if machine is None:
            raise ConfigError(unknown("machine", machine_id, self.ids(), "the price catalog has"))
        return machine


def _where(path: str, exc: ValidationError, data: dict[str, Any]) -> str:
    """Name the machine by its id as well as its position, so the line points at the right entry."""
    loc = exc.errors()[0]["loc"]
    machines = data.get("machines")
    if len(loc) >= 2 and loc[0] == "machines" and isinstance(loc[1], int) and isinstance(machines, list):
        entry = machines[loc[1]] if loc[1] < len(machines) else None
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            return f"{path} (machine {entry['id']!r})"
    return path


def parse_catalog(data: dict[str, Any], where: str) -> Catalog:
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_line(exc, _where(where, exc, data))) from None


def load_catalog(path: Path | None = None) -> Catalog:
    """A price catalog file, or the shipped one (`perseus/config/prices.yaml`) when path is None."""
    if path is not None:
        return parse_catalog(read_yaml(path), str(path))
    shipped = resources.files("perseus.config").joinpath(PACKAGED)
    data = yaml.safe_load(shipped.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{shipped}: expected a mapping at the top level")
    return parse_catalog(data, str(shipped))
