"""Drawing kind `frontier` (paper Fig 2): the feasible rate pairs and the saving at each, after Fig 1."""

import math
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from perseus.experiments.analysis import Peak
from perseus.experiments.frontier import Fig2, Findings
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt
from perseus.report.figure import BAD, DEDICATED, GOOD, SHARED, FigureSpec, finite, new_figure, saving_color
from perseus.report.fmt import Headline
from perseus.report.kinds import DataFile, fig1, findings_of
from perseus.report.table import Cell, TableData, saving_cell, saving_interval_cell, tone


def fig2_table(fig2: Fig2) -> TableData:
    a, b = fig2.models
    points = [*fig2.points, *([fig2.confirmed] if fig2.confirmed is not None else [])]
    best = next((i for i, p in enumerate(points) if p is fig2.headline), None)
    rows = [
        [
            Cell(fmt.rate(p.rates_rps.get(a))),
            Cell(fmt.rate(p.rates_rps.get(b))),
            Cell(fmt.pct(_share(p.rates_rps.get(a), fig2.peaks.get(a)))),
            Cell(p.source),
            saving_cell(p.saving),
            saving_interval_cell(p.saving_interval),
        ]
        for p in points
    ]
    return TableData(
        "fig2",
        f"Fig 2 — feasible rate pairs ({a}, {b}) and the saving of sharing",
        [f"r {a} req/s", f"r {b} req/s", f"r {a} / λ {a}", "point", "saving", "interval"],
        rows,
        bold=frozenset() if best is None else frozenset({best}),
        labels=0,
        notes=[
            Cell(
                f"Each saving is {fmt.against_text(fig2.against)} (λ {a}, λ {b}: the one dedicated "
                f"setting this run measured). {chosen_text(fig2)}",
                tone(fig2.max_saving),
            ),
            Cell(
                "Interval: from the λ intervals and the bracket of each searched rate (interval "
                f"arithmetic); {a}'s held rate is taken as exact.",
                "dim",
            ),
        ],
    )


def _share(rate: float | None, peak: float | None) -> float | None:
    return rate / peak if rate is not None and peak else None


def fig2_figure(results: ExperimentResults, fig2: Fig2) -> Figure:
    a, b = fig2.models
    fig, (ax,) = new_figure("Multi-tenant frontier and the saving of sharing", results, height_in=5.4)
    lam_a, lam_b = fig2.peaks.get(a, math.nan), fig2.peaks.get(b, math.nan)
    points = sorted(fig2.points, key=lambda p: -finite(p.rates_rps.get(a)))
    xs = [finite(p.rates_rps.get(a)) for p in points]
    ys = [finite(p.rates_rps.get(b)) for p in points]
    x_max = max([lam_a, *xs], key=lambda v: v if math.isfinite(v) else 0.0) * 1.12
    y_max = max([lam_b, *ys], key=lambda v: v if math.isfinite(v) else 0.0) * 1.12
    if math.isfinite(lam_a) and math.isfinite(lam_b) and lam_a > 0 and lam_b > 0:
        # r_A/λ_A + r_B/λ_B = 1: what dedicated servers carry for the price of one. Above it, sharing saves.
        ax.plot(
            [lam_a, 0], [0, lam_b], "--", color="gray", label=f"dedicated, same cost: r/λ {a} + r/λ {b} = 1"
        )
        far_x, far_y = 10 * lam_a, 10 * lam_b  # beyond the axes; the plot clips it
        ax.fill([0, lam_a, far_x, far_x, 0], [lam_b, 0, 0, far_y, far_y], color=GOOD, alpha=0.07, lw=0)
        ax.fill([0, lam_a, 0], [0, 0, lam_b], color=BAD, alpha=0.05, lw=0)
        ax.text(lam_a * 0.62, lam_b * 0.78, "sharing saves", color=GOOD, ha="left", fontsize=10)
        ax.text(lam_a * 0.05, lam_b * 0.08, "sharing costs more", color=BAD, ha="left", fontsize=10)
        ax.annotate(f"λ {a} = {fmt.rate(lam_a)}", (lam_a, 0), xytext=(4, 8), textcoords="offset points")
        ax.annotate(f"λ {b} = {fmt.rate(lam_b)}", (0, lam_b), xytext=(8, 4), textcoords="offset points")
    ax.plot(xs, ys, "-", color=SHARED, lw=2, label="shared server: measured frontier")
    labels = []
    for point, x, y in zip(points, xs, ys, strict=True):
        marker, color = ("s", DEDICATED) if point.source == "dedicated" else ("o", SHARED)
        ax.plot([x], [y], marker, color=color, ms=8, zorder=3, clip_on=False)
        if point.source != "dedicated":
            labels.append(
                ax.annotate(
                    fmt.pct(point.saving, signed=True),
                    (x, y),
                    xytext=LABEL_PLACES[0][0],
                    textcoords="offset points",
                    fontweight="bold",
                    color=saving_color(point.saving),
                )
            )
    ax.set_xlim(0, x_max if math.isfinite(x_max) and x_max > 0 else None)
    ax.set_ylim(0, y_max if math.isfinite(y_max) and y_max > 0 else None)
    ax.set_xlabel(f"r {a} (req/s)")
    ax.set_ylabel(f"r {b} (req/s)")
    ax.legend(loc="upper right", frameon=False)
    place_apart(fig, ax, labels, list(zip(xs, ys, strict=True)))
    return fig


# Where a point's label may go: offset in points from the point and the side the text hangs from,
# most preferred first.
LABEL_PLACES = (
    ((7, 5), "left"),
    ((-7, 5), "right"),
    ((7, -15), "left"),
    ((-7, -15), "right"),
    ((7, 17), "left"),
)


MARKER_PT = 6  # half the width kept clear around each plotted point


def place_apart(fig: Figure, ax: Axes, labels: list[Any], points: list[tuple[float, float]]) -> None:
    """Move each label to the first place where it covers neither a plotted point, the legend, nor a label
    placed before it (points close together on a frontier would otherwise print their savings over each
    other).
    Boxes are compared on the laid-out figure, where they will print."""
    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]
    fig.draw_without_rendering()
    pad = MARKER_PT * fig.dpi / 72

    def marker(point: tuple[float, float]) -> Bbox:
        x, y = ax.transData.transform(point)
        return Bbox.from_extents(x - pad, y - pad, x + pad, y + pad)

    legend = ax.get_legend()
    placed: list[Bbox] = [legend.get_window_extent(renderer)] if legend is not None else []
    for label in labels:
        # Every other point's marker and every label placed so far; its own point is beside it by design.
        taken = placed + [marker(p) for p in points if p != label.xy and all(map(math.isfinite, p))]
        for offset, side in LABEL_PLACES:
            label.set_position(offset)
            label.set_horizontalalignment(side)
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                break
        else:
            label.set_position(LABEL_PLACES[0][0])
            label.set_horizontalalignment(LABEL_PLACES[0][1])
            box = label.get_window_extent(renderer)
        placed.append(box)


CAPTION = (
    "Feasible rate pairs when the models share one server, with the saving of sharing at each point. Above "
    "the dashed line, one shared server carries more than dedicated servers would at the same cost (as in "
    "the paper's Fig 2)."
)


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    return fig1.fig1_tables(found.fig1, found.peaks) + ([fig2_table(found.fig2)] if found.fig2 else [])


def figures(results: ExperimentResults) -> list[FigureSpec]:
    found = findings_of(results.findings, Findings)
    fig2 = found.fig2
    shown = fig1.fig1_figures(results, found.fig1)
    if fig2 is not None and fig2.points:
        shown.append(FigureSpec("fig2-frontier.png", CAPTION, "fig2", lambda: fig2_figure(results, fig2)))
    return shown


def lost_everywhere(fig2: Fig2) -> bool:
    """Sharing lost at every measured point: even the one that saved most costs more than each model alone."""
    return fig2.best.direction is not None and fig2.best.saving < 0


def chosen_text(fig2: Fig2) -> str:
    """Which point the headline reports, and why it is not simply the best measured one."""
    if fig2.best.direction is None:  # only the axis ends: no shared point was feasible, nothing was chosen
        return "No shared point met every SLA: only each model alone (the axis ends), which saves nothing."
    which = "losing least (sharing lost at every measured point)" if lost_everywhere(fig2) else "saving most"
    best = f"the point chosen as {which} ({fmt.pct(fig2.best.saving, signed=True)}, {_where(fig2)})"
    if fig2.confirmed is None:
        return (
            f"Best: {best}, not measured again after it was chosen: the best of several noisy points "
            f"leans high. {fmt.saving_interval_text(fig2.best.saving_interval)}."
        )
    return (
        f"Headline: {best}, searched again on a fresh server after the choice: "
        f"{fmt.saving_interval_text(fig2.confirmed.saving_interval)} (the best of several noisy points "
        "leans high; its confirmation does not)."
    )


def _where(fig2: Fig2) -> str:
    a = fig2.models[0]
    direction = fig2.best.direction
    if direction is None:
        return "an axis end: each model alone"
    return "every model in its share" if isinstance(direction, str) else f"{a} held at {direction:.0%} of λ"


def headline(findings: Any) -> Headline | None:
    found = findings_of(findings, Findings)
    fig2 = found.fig2
    if fig2 is not None and fmt.finite(fig2.max_saving) and fig2.best.direction is not None:
        against = fmt.against_text(fig2.against)
        # When every measured point loses, the point reported is the one that lost least, and the headline
        # says sharing lost everywhere rather than calling it a point that saves.
        lost = "; sharing lost at every measured point" if lost_everywhere(fig2) else ""
        if fig2.confirmed is not None:
            point = (
                "even at the frontier point that lost least"
                if lost
                else "at the frontier point chosen as saving most"
            )
            where = (
                f"{point} ({_where(fig2)}{lost}), measured again after the "
                f"choice ({fmt.pct(fig2.best.saving, signed=True)} when chosen), {against}"
            )
        else:
            point = "even at the best" if lost else "at the best"
            where = (
                f"{point} of the measured frontier points (not measured again: leans high{lost}), {against}"
            )
        return fmt.saving_headline(fig2.headline.saving_interval, where)
    return fig1.fig1_headline(found.fig1)


def frontier_csv(fig2: Fig2) -> str:
    """The feasible rate pairs as `perseus savings --frontier` reads them: a header naming the two models,
    then r_A,r_B per point, the dedicated peaks (the other model at 0) included; a comment names the
    setting each peak was measured at, since a saving is only as good as its peaks."""
    a, b = fig2.models
    lines = [
        "# feasible rate pairs (req/s) of the frontier: perseus savings --frontier FILE",
        "# λ, the rows with the other model at 0: " + "; ".join(map(fmt.alone_text, fig2.against.values())),
        f"{a},{b}",
    ]
    for point in fig2.points:
        r_a, r_b = point.rates_rps.get(a), point.rates_rps.get(b)
        if fmt.finite(r_a) and fmt.finite(r_b) and (r_a or r_b):
            lines.append(f"{r_a:.3f},{r_b:.3f}")
    return "\n".join(lines) + "\n"


def files(findings: Any) -> list[DataFile]:
    found = findings_of(findings, Findings)
    if found.fig2 is None or not found.fig2.points:
        return []
    return [DataFile("frontier.csv", frontier_csv(found.fig2), "perseus savings --frontier FILE")]


def searches(findings: Any) -> list[Peak]:
    found = findings_of(findings, Findings)
    return fig1.fig1_searches(found.fig1, found.peaks)
