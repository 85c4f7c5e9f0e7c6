"""Priced machines × measured throughput: $ per 1M inferences and the CostLines a report shows."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perseus.config.prices import Machine, load_catalog
from perseus.core.errors import ConfigError
from perseus.core.interval import Estimate
from perseus.cost.saving import cost_per_million_usd


@dataclass(frozen=True)
class CostLine:
    """$ per 1M inferences of one placement on one priced machine."""

    placement: str  # "resnet50 dedicated", "shared"
    machine: str
    price_usd_per_h: float
    throughput_rps: float
    usd_per_1m: float
    throughput: Estimate | None = None  # the throughput's interval (None: taken as exact)

    @property
    def usd(self) -> Estimate:
        """$ per 1M inferences with its interval: the cost falls as the throughput rises."""
        measured = self.throughput or Estimate.exact(self.throughput_rps)
        return measured.map_decreasing(lambda rps: cost_per_million_usd(self.price_usd_per_h, rps))


def machine_cost_per_million_usd(machine: Machine, throughput_rps: float) -> float:
    """$ per 1M inferences when `machine` serves throughput_rps in total."""
    return cost_per_million_usd(machine.usd_per_h, throughput_rps)


def cost_line(
    placement: str, machine: Machine, throughput_rps: float, interval: Estimate | None = None
) -> CostLine:
    """What one placement (e.g. "resnet50 dedicated", "shared") costs on one machine at its throughput
    (`interval`: the throughput's, when it was searched)."""
    return CostLine(
        placement=placement,
        machine=machine.id,
        price_usd_per_h=machine.usd_per_h,
        throughput_rps=throughput_rps,
        usd_per_1m=machine_cost_per_million_usd(machine, throughput_rps),
        throughput=interval,
    )


def cost_lines(placements: Mapping[str, float], machines: Iterable[Machine]) -> list[CostLine]:
    """Every placement (name → total req/s) on every machine, machine by machine."""
    return [cost_line(name, m, rps) for m in machines for name, rps in placements.items()]


def priced_machines(catalog: Path | None, machine_ids: Sequence[str], notices: list[str]) -> list[Machine]:
    """The machines of `machine_ids` as the catalog (None: the shipped one) prices them now. One that is
    no longer in it, or a catalog that cannot be read, is a notice, never an error: a stored run is
    reported with whatever can still be priced."""
    try:
        found = load_catalog(catalog)
    except ConfigError as exc:
        notices.append(f"costs are not shown: the price catalog cannot be read ({exc})")
        return []
    machines = []
    for machine_id in machine_ids:
        machine = found.find(machine_id)
        if machine is None:
            where = catalog or "the shipped price catalog"
            notices.append(
                f"not priced on machine {machine_id!r}: not in {where}, which has: {', '.join(found.ids())}"
            )
        else:
            machines.append(machine)
    return machines
