"""One report module per experiment kind (named by the kind's REPORT), each drawing its findings: tables,
figures, the headline sentence and the λ searches whose probes the report lists. This module finds a
run's and puts the pieces in reading order; the terminal and HTML reports both use it."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from perseus.experiments.analysis import Peak
from perseus.experiments.registry import kind_of
from perseus.experiments.results import ExperimentResults
from perseus.report.figure import FigureSpec
from perseus.report.fmt import Headline
from perseus.report.table import TableData

F = TypeVar("F")


@dataclass(frozen=True)
class DataFile:
    """A file of findings written beside the report, for another command or tool to read."""

    name: str  # e.g. frontier.csv
    text: str
    use: str  # what it is for, as the CLI says it: "perseus savings --frontier FILE"


class KindReport(Protocol):
    """A kind's report module: `tables` is required; `figures` (none), `headline` (none), `files` (data
    files beside the report; none) and `searches` (the findings' `peaks`, if any) have defaults."""

    def tables(self, findings: Any) -> list[TableData]: ...


def drawing(results: ExperimentResults) -> KindReport:
    """The report module of the run's kind."""
    return cast(KindReport, importlib.import_module(kind_of(results.kind).REPORT))


def tables(results: ExperimentResults) -> list[TableData]:
    return drawing(results).tables(results.findings)


def figures(results: ExperimentResults) -> list[FigureSpec]:
    draw: Callable[[ExperimentResults], list[FigureSpec]] | None = getattr(drawing(results), "figures", None)
    return draw(results) if draw is not None else []


def headline(results: ExperimentResults) -> Headline | None:
    say: Callable[[Any], Headline | None] | None = getattr(drawing(results), "headline", None)
    return say(results.findings) if say is not None else None


def data_files(results: ExperimentResults) -> list[DataFile]:
    """The kind's data files (its report module's `files(findings)`; none by default)."""
    make: Callable[[Any], list[DataFile]] | None = getattr(drawing(results), "files", None)
    return make(results.findings) if make is not None else []


def searches(results: ExperimentResults) -> list[Peak]:
    """The λ searches whose probes the report lists: the kind's own, or its findings' dedicated peaks."""
    own: Callable[[Any], list[Peak]] | None = getattr(drawing(results), "searches", None)
    found = (
        own(results.findings) if own is not None else list(getattr(results.findings, "peaks", {}).values())
    )
    return [p for p in found if p.probes]


def findings_of(findings: Any, kind: type[F]) -> F:
    """The findings a report module draws, checked to be its kind's."""
    if not isinstance(findings, kind):
        raise TypeError(f"expected {kind.__name__} findings, got {type(findings).__name__}")
    return findings


def warnings(results: ExperimentResults) -> list[str]:
    """The run's own warnings, plus a line when it did not finish."""
    lines = list(results.warnings)
    if results.status != "done":
        lines.insert(0, f"run {results.status}" + (f": {results.reason}" if results.reason else ""))
    return lines
