"""Drawing kind `peak`: λ of each model alone, and how each search found it."""

from typing import Any

from perseus.experiments.analysis import Peak
from perseus.experiments.peak import Findings
from perseus.experiments.results import ExperimentResults
from perseus.report.figure import FigureSpec
from perseus.report.fmt import Headline
from perseus.report.table import TableData, peaks_table


def _findings(findings: Any) -> Findings:
    assert isinstance(findings, Findings)
    return findings


def tables(findings: Any) -> list[TableData]:
    found = _findings(findings)
    return [peaks_table(list(found.peaks.values()))] if found.peaks else []


def figures(results: ExperimentResults) -> list[FigureSpec]:
    return []


def headline(findings: Any) -> Headline | None:
    return None


def searches(findings: Any) -> list[Peak]:
    return list(_findings(findings).peaks.values())
