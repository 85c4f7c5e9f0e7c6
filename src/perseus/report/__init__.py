"""Human-facing output of stored runs: rich tables, PNG figures, one self-contained HTML report, and raw
data exports (CSV / Parquet)."""

from perseus.report.export import export_run
from perseus.report.html import render_html, write_report
from perseus.report.tables import render_results

__all__ = [
    "export_run",
    "render_html",
    "render_results",
    "write_report",
]
