"""Drawing kind `steady` (the worked example of ARCHITECTURE.md): one table."""

from typing import Any

from perseus.report import fmt
from perseus.report.kinds import findings_of
from perseus.report.table import TableData, plain
from tests.unit.example_kind import Findings


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    rows = [plain(m, fmt.rate(r), fmt.ms(p)) for m, by in found.p95_ms.items() for r, p in by.items()]
    return [TableData("steady", "p95 at fixed rates", ["model", "req/s", "p95 ms"], rows)]
