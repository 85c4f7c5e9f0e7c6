"""One report module per experiment kind (named by the kind's REPORT), each drawing its findings: tables,
figures, the headline sentence and the λ searches whose probes the report lists. This module finds a
run's and puts the pieces in reading order; the terminal and HTML reports both use it."""

import importlib
from typing import Any, Protocol, cast

from perseus.experiments.analysis import Peak
from perseus.experiments.registry import kind_of
from perseus.experiments.results import ExperimentResults
from perseus.report.figure import FigureSpec
from perseus.report.fmt import Headline
from perseus.report.table import TableData


class KindReport(Protocol):
    def tables(self, findings: Any) -> list[TableData]: ...

    def figures(self, results: ExperimentResults) -> list[FigureSpec]: ...

    def headline(self, findings: Any) -> Headline | None: ...

    def searches(self, findings: Any) -> list[Peak]: ...


def drawing(results: ExperimentResults) -> KindReport:
    """The report module of the run's kind."""
    return cast(KindReport, importlib.import_module(kind_of(results.kind).REPORT))


def tables(results: ExperimentResults) -> list[TableData]:
    return drawing(results).tables(results.findings)


def figures(results: ExperimentResults) -> list[FigureSpec]:
    return drawing(results).figures(results)


def headline(results: ExperimentResults) -> Headline | None:
    return drawing(results).headline(results.findings)


def searches(results: ExperimentResults) -> list[Peak]:
    return [p for p in drawing(results).searches(results.findings) if p.probes]


def warnings(results: ExperimentResults) -> list[str]:
    """The run's own warnings, plus a line when it did not finish."""
    lines = list(results.warnings)
    if results.status != "done":
        lines.insert(0, f"run {results.status}" + (f": {results.reason}" if results.reason else ""))
    return lines
