"""Drawing kind `interference` (VELTAIR): the victim × aggressor p95 matrix, slowdowns, and N copies with and
without pinning."""

import math
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from perseus.experiments.interference import Findings, Slowdown
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt
from perseus.report.figure import BAD, GOOD, TARGET, FigureSpec, finite, new_figure
from perseus.report.fmt import Headline
from perseus.report.kinds import findings_of
from perseus.report.table import Cell, TableData, peaks_table, ratio_cell


def pair_matrix(interference: Findings) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """Rows (victims), columns (aggressors, in the victims' order so the diagonal is the diagonal) and
    the p95 ratio of each (victim, aggressor)."""
    victims = list(dict.fromkeys(s.victim for s in interference.pairs))
    named = {a for s in interference.pairs for a in s.aggressors}
    aggressors = [v for v in victims if v in named]
    aggressors += [a for s in interference.pairs for a in s.aggressors if a not in aggressors]
    aggressors = list(dict.fromkeys(aggressors))
    ratio = {(s.victim, a): s.p95_ratio for s in interference.pairs for a in s.aggressors}
    return victims, aggressors, ratio


def interference_matrix(interference: Findings) -> TableData | None:
    """victim × aggressor p95 ratio (together / alone) for the pair tests."""
    if not interference.pairs:
        return None
    victims, aggressors, ratio = pair_matrix(interference)
    rows = [
        [Cell(v)]
        + [ratio_cell(ratio.get((v, a))) if v != a else Cell(fmt.MISSING, "dim") for a in aggressors]
        for v in victims
    ]
    return TableData(
        "interference",
        "Interference — p95 of the victim (row) beside the aggressor (column) / p95 alone",
        ["victim \\ aggressor", *aggressors],
        rows,
    )


def slowdown_table(interference: Findings) -> TableData | None:
    items: list[tuple[str, Slowdown]] = [("pair", s) for s in interference.pairs]
    items += [("copies", s) for s in interference.copies]
    if not items:
        return None
    rows = [
        [
            Cell(test),
            Cell(s.victim),
            Cell(", ".join(s.aggressors)),
            Cell("yes" if s.pinned else "no"),
            Cell(fmt.rate(s.offered_rps)),
            Cell(fmt.ms(s.p95_alone_ms)),
            Cell(fmt.ms(s.p95_together_ms)),
            ratio_cell(s.p95_ratio),
            Cell(fmt.rate(s.peak_alone_rps)),
            Cell(fmt.rate(s.peak_together_rps)),
            Cell(fmt.ratio(s.peak_ratio)),
        ]
        for test, s in items
    ]
    return TableData(
        "slowdowns",
        "Slowdown of co-location (same offered rate together vs alone)",
        [
            "test",
            "victim",
            "beside",
            "pinned",
            "offered req/s",
            "p95 alone ms",
            "p95 together ms",
            "p95 ratio",
            "λ alone",
            "λ together",
            "λ ratio",
        ],
        rows,
        labels=4,
    )


def interference_figure(results: ExperimentResults, interference: Findings) -> Figure:
    victims, aggressors, ratio = pair_matrix(interference)
    grid = [[finite(ratio.get((v, a))) for a in aggressors] for v in victims]
    values = [v for row in grid for v in row if math.isfinite(v)]
    height = 1.9 + 0.75 * len(victims)
    fig, (ax,) = new_figure("Interference: p95 beside an aggressor / p95 alone", results, height_in=height)
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
    fig, (ax,) = new_figure("Copies of one model co-located: p95 together / alone", results, height_in=4.2)
    labels = [
        f"{s.victim} + {', '.join(s.aggressors)}\n{'pinned' if s.pinned else 'not pinned'}" for s in copies
    ]
    values = [finite(s.p95_ratio) for s in copies]
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


PAIRS_CAPTION = "p95 latency of each victim beside an aggressor, relative to running alone."
COPIES_CAPTION = (
    "p95 latency of N copies of one model co-located, relative to one copy alone, with and without core "
    "pinning (VELTAIR measured 1.8× for 4 GoogLeNets)."
)


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    shown = [peaks_table(list(found.peaks.values()))] if found.peaks else []
    return shown + [t for t in (interference_matrix(found), slowdown_table(found)) if t is not None]


def figures(results: ExperimentResults) -> list[FigureSpec]:
    found = findings_of(results.findings, Findings)
    shown = []
    if found.pairs:
        draw_pairs = lambda: interference_figure(results, found)  # noqa: E731
        shown.append(FigureSpec("interference.png", PAIRS_CAPTION, "interference", draw_pairs))
    if found.copies:
        draw_copies = lambda: copies_figure(results, found.copies)  # noqa: E731
        shown.append(FigureSpec("copies.png", COPIES_CAPTION, "slowdowns", draw_copies))
    return shown


def headline(findings: Any) -> Headline | None:
    found = findings_of(findings, Findings)
    ratios = [s.p95_ratio for s in found.pairs + found.copies if math.isfinite(s.p95_ratio)]
    if not ratios:
        return None
    return Headline(f"Co-location raises p95 latency up to {max(ratios):.2f}× over running alone", None)
