"""PNG figures of an experiment run (matplotlib, no display): paper Fig 1 and Fig 2, VELTAIR's QoS curves,
the interference heatmap and copies bars, and the knob savings. Sized to read at 800 px wide."""

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from perseus.cost.results import ExperimentResults, Fig1, Fig2, Interference, Knobs, QosCurve, Slowdown
from perseus.report import fmt
from perseus.report.files import atomic_write_bytes
from perseus.report.sections import pair_matrix

# Rendered at 1000 px wide; shown at 800 px the text stays ≥ 9 px.
DPI = 125
WIDTH_IN = 8.0
DEDICATED, SHARED, GOOD, BAD, TARGET = "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8c1c13"
_RC: dict[Any, Any] = {  # newer matplotlib types rc keys as Literals
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

CAPTIONS = {
    "fig1.png": "Peak throughput within the SLA of each model served alone (dedicated) and when both share "
    "one server (as in the paper's Fig 1).",
    "fig2-frontier.png": "Feasible rate pairs when the models share one server, with the saving of "
    "sharing at each point. Above the dashed line, one shared server carries more than dedicated servers "
    "would at the same cost (as in the paper's Fig 2).",
    "qos.png": "Share of requests within the SLA bound vs offered load, alone and co-located (VELTAIR's "
    "QoS satisfaction rate; target 99%).",
    "interference.png": "p95 latency of each victim beside an aggressor, relative to running alone.",
    "copies.png": "p95 latency of N copies of one model co-located, relative to one copy alone, with and "
    "without core pinning (VELTAIR measured 1.8× for 4 GoogLeNets).",
    "knobs.png": "Saving of sharing under each knob setting; the best feasible setting is highlighted.",
}


def _context(results: ExperimentResults) -> str:
    return f"{fmt.sla_text(results)} · {fmt.machine_text(results.provenance)}"


def _figure(
    title: str, results: ExperimentResults, height_in: float = 4.6, ncols: int = 1
) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.suptitle(f"{title}\n{_context(results)}")
    return fig, list(axes)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _finite(value: float | None) -> float:
    """NaN for a missing value, so matplotlib leaves a gap instead of failing."""
    return value if value is not None and math.isfinite(value) else math.nan


def _saving_color(saving: float) -> str:
    return "gray" if not math.isfinite(saving) else BAD if saving < 0 else GOOD


def fig1_figure(results: ExperimentResults, fig1: Fig1) -> Figure:
    fig, (ax,) = _figure("Dedicated vs multi-tenant peak throughput", results)
    x = range(len(fig1.models))
    width = 0.38
    dedicated = [_finite(fig1.dedicated[m].total_rps if m in fig1.dedicated else None) for m in fig1.models]
    shared = [_finite(fig1.shared.rates_rps.get(m)) for m in fig1.models]
    for offset, values, color, label in (
        (-width / 2, dedicated, DEDICATED, "dedicated (one server per model)"),
        (width / 2, shared, SHARED, "multi-tenant (both on one server)"),
    ):
        bars = ax.bar([i + offset for i in x], values, width, color=color, label=label)
        ax.bar_label(bars, labels=[fmt.rate(v) for v in values], padding=2)
    ax.set_xticks(list(x), fig1.models)
    ax.set_ylabel("throughput within SLA (req/s)")
    ax.margins(y=0.15)
    ax.legend(loc="upper left", frameon=False)
    ax.text(
        0.99,
        0.97,
        f"saving of sharing: {fmt.pct(fig1.saving, signed=True)}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontweight="bold",
        color=_saving_color(fig1.saving),
    )
    return fig


def fig2_figure(results: ExperimentResults, fig2: Fig2) -> Figure:
    a, b = fig2.models
    fig, (ax,) = _figure("Multi-tenant frontier and the saving of sharing", results, height_in=5.4)
    lam_a, lam_b = fig2.peaks.get(a, math.nan), fig2.peaks.get(b, math.nan)
    points = sorted(fig2.points, key=lambda p: -_finite(p.rates_rps.get(a)))
    xs = [_finite(p.rates_rps.get(a)) for p in points]
    ys = [_finite(p.rates_rps.get(b)) for p in points]
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
                    color=_saving_color(point.saving),
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
    """Move each label to the first place where it covers neither a plotted point nor a label placed
    before it (points close together on a frontier would otherwise print their savings over each other).
    Boxes are compared on the laid-out figure, where they will print."""
    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]
    fig.draw_without_rendering()
    pad = MARKER_PT * fig.dpi / 72

    def marker(point: tuple[float, float]) -> Bbox:
        x, y = ax.transData.transform(point)
        return Bbox.from_extents(x - pad, y - pad, x + pad, y + pad)

    placed: list[Bbox] = []
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


def qos_figure(results: ExperimentResults, curves: list[QosCurve]) -> Figure:
    tenants = list(dict.fromkeys(c.tenant for c in curves))
    fig, axes = _figure(
        "QoS satisfaction vs offered load", results, height_in=4.4, ncols=min(len(tenants), 3)
    )
    styles = {"alone": ("-", DEDICATED, "o"), "co-located": ("--", SHARED, "s")}
    for ax, tenant in zip(axes, tenants, strict=False):
        for curve in (c for c in curves if c.tenant == tenant):
            line, color, marker = styles.get(curve.placement, (":", "gray", "^"))
            points = sorted(curve.points, key=lambda p: p.offered_rps)
            ax.plot(
                [p.offered_rps for p in points],
                [100 * _finite(p.satisfaction) for p in points],
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


def interference_figure(results: ExperimentResults, interference: Interference) -> Figure:
    victims, aggressors, ratio = pair_matrix(interference)
    grid = [[_finite(ratio.get((v, a))) for a in aggressors] for v in victims]
    values = [v for row in grid for v in row if math.isfinite(v)]
    height = 1.9 + 0.75 * len(victims)
    fig, (ax,) = _figure("Interference: p95 beside an aggressor / p95 alone", results, height_in=height)
    cmap = matplotlib.colormaps["OrRd"].with_extremes(bad="#eeeeee")
    image = ax.imshow(grid, cmap=cmap, vmin=1.0, vmax=max([2.0, *values]), aspect="auto")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            dark = math.isfinite(value) and value > 1.0 + 0.6 * (max([2.0, *values]) - 1.0)
            ax.text(
                j,
                i,
                fmt.ratio(value),
                ha="center",
                va="center",
                fontsize=12,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(len(aggressors)), aggressors)
    ax.set_yticks(range(len(victims)), victims)
    ax.set_xlabel("aggressor (co-located tenant)")
    ax.set_ylabel("victim")
    ax.spines[:].set_visible(False)
    fig.colorbar(image, ax=ax, label="p95 ratio")
    return fig


def copies_figure(results: ExperimentResults, copies: list[Slowdown]) -> Figure:
    fig, (ax,) = _figure("Copies of one model co-located: p95 together / alone", results, height_in=4.2)
    labels = [
        f"{s.victim} + {', '.join(s.aggressors)}\n{'pinned' if s.pinned else 'not pinned'}" for s in copies
    ]
    values = [_finite(s.p95_ratio) for s in copies]
    bars = ax.bar(
        range(len(copies)), values, 0.55, color=[GOOD if s.pinned else BAD for s in copies], alpha=0.85
    )
    ax.bar_label(
        bars,
        labels=[
            f"{fmt.ratio(s.p95_ratio)}  ({fmt.ms(s.p95_alone_ms)} → {fmt.ms(s.p95_together_ms)} ms)"
            for s in copies
        ],
        padding=3,
    )
    ax.axhline(1.0, color="gray", lw=1, label="no slowdown")
    ax.axhline(1.8, color=TARGET, ls=":", lw=1.2, label="VELTAIR: 4 × GoogLeNet → 1.8×")
    ax.set_xticks(range(len(copies)), labels)
    ax.set_ylabel("p95 ratio")
    ax.set_ylim(0, max([2.0, *(v for v in values if math.isfinite(v))]) * 1.2)
    ax.legend(loc="upper right", frameon=False)
    return fig


def _short(key: str, value: object) -> str:
    names = {"dynamic_batching": "batching", "intra_op_threads": "threads", "instances": "instances"}
    shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
    return f"{names.get(key, key)} {shown}"


def knob_labels(knobs: Knobs) -> tuple[list[str], str]:
    """Per row, only the knobs that differ between rows; the ones all rows share go in one note."""
    keys = list(dict.fromkeys(k for row in knobs.rows for k in row.setting))
    varying = [k for k in keys if len({repr(r.setting.get(k)) for r in knobs.rows}) > 1]
    fixed = [k for k in keys if k not in varying and knobs.rows]
    labels = [", ".join(_short(k, r.setting.get(k)) for k in varying) or "defaults" for r in knobs.rows]
    common = ", ".join(_short(k, knobs.rows[0].setting.get(k)) for k in fixed)
    return labels, common


def knobs_figure(results: ExperimentResults, knobs: Knobs) -> Figure:
    rows = knobs.rows
    fig, (ax,) = _figure("Saving of sharing per knob setting", results, height_in=2.0 + 0.45 * len(rows))
    labels, common = knob_labels(knobs)
    y = list(range(len(rows)))[::-1]  # first setting on top
    savings = [100 * _finite(r.saving) for r in rows]
    colors = [GOOD if r == knobs.best else (BAD if (r.saving or 0) < 0 else DEDICATED) for r in rows]
    ax.barh(y, savings, 0.6, color=colors)
    span = max([1.0, *(abs(s) for s in savings if math.isfinite(s))])
    for yi, row, value in zip(y, rows, savings, strict=True):
        if not math.isfinite(value):
            ax.text(0.02 * span, yi, "no shared rate met the SLAs", va="center", color="gray", fontsize=10)
            continue
        best = "  ★ best" if row == knobs.best else ""
        ax.text(
            value + (0.02 * span if value >= 0 else -0.02 * span),
            yi,
            f"{fmt.pct(row.saving, signed=True)}{best}",
            va="center",
            ha="left" if value >= 0 else "right",
            fontweight="bold" if best else "normal",
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    lowest = min((v for v in savings if math.isfinite(v)), default=0.0)
    ax.set_xlim(lowest - 0.3 * span if lowest < 0 else -0.1 * span, 1.9 * span)
    ax.set_xlabel("saving of sharing (%)" + (f" — all settings: {common}" if common else ""))
    return fig


def figures(results: ExperimentResults) -> dict[str, Callable[[], Figure]]:
    """File name → how to draw it, for every figure the results have data for."""
    found: dict[str, Callable[[], Figure]] = {}
    fig1, fig2, interference, knobs = results.fig1, results.fig2, results.interference, results.knobs
    if fig1 is not None:
        found["fig1.png"] = lambda: fig1_figure(results, fig1)
    if fig2 is not None and fig2.points:
        found["fig2-frontier.png"] = lambda: fig2_figure(results, fig2)
    if any(c.points for c in results.qos):
        found["qos.png"] = lambda: qos_figure(results, [c for c in results.qos if c.points])
    if interference is not None and interference.pairs:
        found["interference.png"] = lambda: interference_figure(results, interference)
    if interference is not None and interference.copies:
        found["copies.png"] = lambda: copies_figure(results, interference.copies)
    if knobs is not None and knobs.rows:
        found["knobs.png"] = lambda: knobs_figure(results, knobs)
    return found


def write_figures(results: ExperimentResults, out_dir: Path) -> list[Path]:
    """Draw every figure the results have data for into out_dir (atomically); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context(_RC):
        for name, draw in figures(results).items():
            path = out_dir / name
            atomic_write_bytes(path, _png(draw()))
            paths.append(path)
    return paths
