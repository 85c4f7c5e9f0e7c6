"""Drawing kind `peak`: λ of each model alone, and how each search found it."""

from typing import Any

from perseus.experiments.peak import Findings
from perseus.report.kinds import findings_of
from perseus.report.table import TableData, peaks_table


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    return [peaks_table(list(found.peaks.values()))] if found.peaks else []
