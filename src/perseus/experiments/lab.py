"""What a kind's plan may do to measure, as two small protocols: a Lab that starts placements and counts
phases, and the Server of one placement that runs trials and searches. orchestrate implements them on
the real embedded Triton; unit tests implement them with a model of a server."""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase
from perseus.store import Placement, TrialRow
from perseus.store.keys import Scalar

T = TypeVar("T")
R = TypeVar("R")
RatesAt = Callable[[float], Mapping[str, float]]  # searched rate → req/s per tenant


class Server(Protocol):
    placement: Placement

    def trial(self, rates: Mapping[str, float], purpose: str, **params: Scalar) -> TrialRow:
        """One open-loop trial at these req/s per tenant, stored under its key (or found stored)."""
        ...

    def search(
        self, rates_at: RatesAt, judged: Sequence[str], start: float, purpose: str, **params: Scalar
    ) -> float:
        """λ: the highest searched rate whose trial is feasible for every tenant offered load; raises
        SlaNotMetError when none is. `judged` are the tenants whose served rate counts (ramp)."""
        ...

    def estimate(self) -> dict[str, float]:
        """Closed-loop throughput of each tenant alone: where a search starts."""
        ...


class Lab(Protocol):
    run_id: int  # the run measured: what a kind's random choices are seeded from (a resume draws the same)

    def phase(self, label: str) -> None:
        """The next phase of the kind's plan begins (progress)."""
        ...

    def serve(
        self, placement: Placement, tenants: tuple[TenantConfig, ...]
    ) -> AbstractContextManager[Server]:
        """A server holding these tenants (named as `placement` says) for the block."""
        ...

    def status(self, text: str) -> None: ...

    def trials(self) -> list[TrialRow]:
        """The trials this run has stored so far: for a kind that chooses what to measure next by what it
        measured (profile's `pairs: auto`), read as its analysis reads them."""
        ...

    def each(self, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
        """work(item) for each item, results in item order: placements that do not depend on each other
        (one after another on one host; side by side, one per node, on a Ray cluster). The first error
        raised is raised once every item has finished, so finished work is stored either way."""
        ...


class Kind(Protocol):
    """An experiment kind: a module with these names (see ARCHITECTURE.md, "Adding an experiment kind")."""

    NAME: str  # the `kind:` of an experiment file
    REPORT: str  # the module (perseus.report.kinds.*) that draws its findings

    @property
    def Settings(self) -> type[ExperimentBase]:  # the kind's experiment file (a class)
        ...

    def plan(self, experiment: ExperimentBase) -> list[str]: ...

    def run(self, experiment: ExperimentBase, lab: Lab) -> None: ...

    def analyze(self, experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> object: ...
