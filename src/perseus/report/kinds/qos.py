"""Drawing kind `qos-sweep` (VELTAIR): QoS satisfaction vs offered load, alone and co-located."""

from typing import Any

from matplotlib.figure import Figure

from perseus.experiments.qos import Findings, QosCurve
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt
from perseus.report.figure import DEDICATED, SHARED, TARGET, FigureSpec, finite, new_figure
from perseus.report.kinds import findings_of
from perseus.report.table import Cell, TableData, peaks_table


def qos_table(curves: list[QosCurve]) -> TableData:
    rows = []
    for curve in curves:
        for point in curve.points:
            rows.append(
                [
                    Cell(curve.tenant),
                    Cell(curve.placement),
                    Cell(fmt.rate(point.offered_rps)),
                    Cell(fmt.pct(point.fraction_of_peak)),
                    Cell(fmt.pct(point.satisfaction), None if point.satisfaction >= 0.99 else "warn"),
                    Cell(fmt.ms(point.p95_ms)),
                    Cell("yes", "good") if point.sla_met else Cell("no", "bad"),
                ]
            )
    slas = sorted({c.sla for c in curves})
    return TableData(
        "qos",
        "QoS satisfaction vs offered load (share of requests within the SLA bound; errors count as misses)",
        ["tenant", "placement", "offered req/s", "of λ alone", "satisfaction", "p95 ms", "SLA met"],
        rows,
        labels=2,
        notes=[Cell(f"SLA: {'; '.join(slas)}; VELTAIR's target is 99% satisfaction.")],
    )


def qos_figure(results: ExperimentResults, curves: list[QosCurve]) -> Figure:
    tenants = list(dict.fromkeys(c.tenant for c in curves))
    fig, axes = new_figure(
        "QoS satisfaction vs offered load", results, height_in=4.4, ncols=min(len(tenants), 3)
    )
    styles = {"alone": ("-", DEDICATED, "o"), "co-located": ("--", SHARED, "s")}
    for ax, tenant in zip(axes, tenants, strict=False):
        for curve in (c for c in curves if c.tenant == tenant):
            line, color, marker = styles.get(curve.placement, (":", "gray", "^"))
            points = sorted(curve.points, key=lambda p: p.offered_rps)
            ax.plot(
                [p.offered_rps for p in points],
                [100 * finite(p.satisfaction) for p in points],
                line,
                color=color,
                marker=marker,
                label=curve.placement,
            )
        ax.axhline(99, color=TARGET, ls=":", lw=1.2, label="99% target")
        ax.set_title(tenant, fontweight="bold")
        ax.set_xlabel("offered load (req/s)")
        ax.set_ylim(0, 104)
    axes[0].set_ylabel("requests within SLA (%)")
    axes[0].legend(loc="lower left", frameon=False)
    return fig


CAPTION = (
    "Share of requests within the SLA bound vs offered load, alone and co-located (VELTAIR's QoS "
    "satisfaction rate; target 99%)."
)


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    return ([peaks_table(list(found.peaks.values()))] if found.peaks else []) + (
        [qos_table(found.curves)] if found.curves else []
    )


def figures(results: ExperimentResults) -> list[FigureSpec]:
    curves = [c for c in findings_of(results.findings, Findings).curves if c.points]
    return [FigureSpec("qos.png", CAPTION, "qos", lambda: qos_figure(results, curves))] if curves else []
