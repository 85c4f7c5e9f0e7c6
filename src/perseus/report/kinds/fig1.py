"""Drawing kind `dedicated-vs-multitenant` (paper Fig 1): dedicated vs shared λ, $ per 1M inferences; the
saving names the dedicated setting it is against."""

import math
from typing import Any

from matplotlib.figure import Figure

from perseus.experiments.analysis import Peak
from perseus.experiments.fig1 import Fig1, Findings
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt
from perseus.report.figure import (
    DEDICATED,
    SHARED,
    FigureSpec,
    error_bars,
    finite,
    new_figure,
    saving_color,
)
from perseus.report.fmt import Headline
from perseus.report.kinds import findings_of
from perseus.report.table import Cell, TableData, peaks_table, plain, tone


def fig1_table(fig1: Fig1) -> TableData:
    rows = []
    for model in fig1.models:
        dedicated = fig1.dedicated.get(model)
        alone = fig1.against.get(model)
        rows.append(
            plain(
                model,
                fmt.knobs_text(alone.setting) if alone is not None else fmt.MISSING,
                fmt.rate(dedicated.total_rps if dedicated else None),
                fmt.span(dedicated.total if dedicated else None, fmt.rate),
                fmt.ms(dedicated.p95_ms.get(model) if dedicated else None),
                fmt.rate(fig1.shared.rates_rps.get(model)),
                fmt.span(fig1.shared.rate_of(model) if model in fig1.shared.rates_rps else None, fmt.rate),
                fmt.ms(fig1.shared.p95_ms.get(model)),
            )
        )
    rows.append(
        [
            Cell("all (shared server)", "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.rate(fig1.shared.total_rps)),
            Cell(fmt.span(fig1.shared.total, fmt.rate)),
            Cell(fmt.ms(max(fig1.shared.p95_ms.values(), default=math.nan))),
        ]
    )
    machines = _machines_needed(fig1)
    notes = []
    if fmt.finite(machines):
        notes.append(
            Cell(
                f"Serving the shared mix dedicated takes Σ r/λ = {fmt.num(machines, 3)} machines; "
                "sharing takes 1."
            )
        )
    saving = fig1.saving_interval
    unsure = saving.spans_zero() and fmt.has_interval(saving)  # then "sharing saves x%" would overstate it
    words = "" if unsure else f" ({fmt.saving_words(saving.value)})"
    notes.append(
        Cell(
            f"Saving of multi-tenant serving: 1 − 1/(Σ r/λ) = {fmt.saving_interval_text(saving)}{words}, "
            f"{fmt.against_text(fig1.against)} (the one dedicated setting this run measured).",
            "warn" if unsure else tone(saving.value),
        )
    )
    return TableData(
        "fig1",
        "Fig 1 — dedicated vs multi-tenant peak throughput",
        [
            "model",
            "alone at",
            "dedicated λ req/s",
            "interval",
            "dedicated p95 ms",
            "shared req/s",
            "interval",
            "shared p95 ms",
        ],
        rows,
        notes=notes,
        labels=2,
    )


def _machines_needed(fig1: Fig1) -> float:
    total = 0.0
    for model, rate in fig1.shared.rates_rps.items():
        peak = fig1.dedicated.get(model)
        if peak is None or not peak.total_rps > 0:
            return math.nan
        total += rate / peak.total_rps
    return total


def costs_table(fig1: Fig1) -> TableData:
    rows = [
        plain(
            c.placement,
            c.machine,
            fmt.num(c.price_usd_per_h, 4),
            fmt.rate(c.throughput_rps),
            fmt.usd(c.usd_per_1m),
            fmt.span(c.usd, fmt.usd),
        )
        for c in fig1.costs
    ]
    return TableData(
        "costs",
        "Cost per 1M inferences",
        ["placement", "machine", "$/h", "req/s", "$ / 1M inferences", "interval"],
        rows,
        labels=2,
    )


def fig1_figure(results: ExperimentResults, fig1: Fig1) -> Figure:
    fig, (ax,) = new_figure("Dedicated vs multi-tenant peak throughput", results)
    x = range(len(fig1.models))
    width = 0.38
    dedicated = [fig1.dedicated[m].total if m in fig1.dedicated else None for m in fig1.models]
    shared = [fig1.shared.rate_of(m) if m in fig1.shared.rates_rps else None for m in fig1.models]
    for offset, found, color, label in (
        (-width / 2, dedicated, DEDICATED, "dedicated (one server per model)"),
        (width / 2, shared, SHARED, "multi-tenant (both on one server)"),
    ):
        values = [finite(e.value if e else None) for e in found]
        where = [i + offset for i in x]
        bars = ax.bar(where, values, width, color=color, label=label, yerr=error_bars(found), capsize=4)
        ax.bar_label(bars, labels=[fmt.rate(v) for v in values], padding=2)
    ax.set_xticks(list(x), fig1.models)
    ax.set_ylabel("throughput within SLA (req/s)")
    ax.margins(y=0.15)
    ax.legend(loc="upper left", frameon=False)
    ax.text(
        0.99,
        0.97,
        f"saving of sharing: {fmt.pct(fig1.saving, signed=True)}" + _span_line(fig1),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontweight="bold",
        color=saving_color(fig1.saving),
    )
    return fig


def _span_line(fig1: Fig1) -> str:
    """The saving's interval under it, when it has one; `≈ 0` when it holds zero."""
    saving = fig1.saving_interval
    if not fmt.has_interval(saving):
        return ""
    return f"\n({fmt.pct_span(saving)}{', ≈ 0' if saving.spans_zero() else ''})"


CAPTION = (
    "Peak throughput within the SLA of each model served alone (dedicated) and when both share one server "
    "(as in the paper's Fig 1)."
)


def fig1_tables(found: Fig1 | None, peaks: dict[str, Peak]) -> list[TableData]:
    """Fig 1, its costs and the dedicated peaks (the frontier report shows them too)."""
    shown = [] if found is None else [fig1_table(found)] + ([costs_table(found)] if found.costs else [])
    return shown + ([peaks_table(list(peaks.values()))] if peaks else [])


def fig1_figures(results: ExperimentResults, found: Fig1 | None) -> list[FigureSpec]:
    if found is None:
        return []
    return [FigureSpec("fig1.png", CAPTION, "fig1", lambda: fig1_figure(results, found))]


def fig1_searches(found: Fig1 | None, peaks: dict[str, Peak]) -> list[Peak]:
    """Every λ search: each model alone, and the shared server's."""
    return list(peaks.values()) + ([found.shared] if found is not None else [])


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    return fig1_tables(found.fig1, found.peaks)


def figures(results: ExperimentResults) -> list[FigureSpec]:
    return fig1_figures(results, findings_of(results.findings, Findings).fig1)


def headline(findings: Any) -> Headline | None:
    return fig1_headline(findings_of(findings, Findings).fig1)


def fig1_headline(found: Fig1 | None) -> Headline | None:
    if found is None or not fmt.finite(found.saving):
        return None
    return fmt.saving_headline(
        found.saving_interval, f"at the shared peak, {fmt.against_text(found.against)}"
    )


def searches(findings: Any) -> list[Peak]:
    found = findings_of(findings, Findings)
    return fig1_searches(found.fig1, found.peaks)
