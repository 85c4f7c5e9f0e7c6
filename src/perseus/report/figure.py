"""What every PNG figure shares (matplotlib, no display): size, colours, the title's context line, and
writing the figures a kind draws. Sized to read at 800 px wide."""

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from perseus.core.files import atomic_write_bytes
from perseus.core.interval import Estimate
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt

# Rendered at 1000 px wide; shown at 800 px the text stays ≥ 9 px.
DPI = 125
WIDTH_IN = 8.0
DEDICATED, SHARED, GOOD, BAD, TARGET = "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8c1c13"


RC: dict[Any, Any] = {  # newer matplotlib types rc keys as Literals
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


def context(results: ExperimentResults) -> str:
    return f"{fmt.sla_text(results)} · {fmt.machine_text(results.provenance)}"


def new_figure(
    title: str, results: ExperimentResults, height_in: float = 4.6, ncols: int = 1
) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.suptitle(f"{title}\n{context(results)}")
    return fig, list(axes)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def finite(value: float | None) -> float:
    """NaN for a missing value, so matplotlib leaves a gap instead of failing."""
    return value if value is not None and math.isfinite(value) else math.nan


def error_bars(found: Sequence[Estimate | None]) -> list[list[float]]:
    """matplotlib's yerr (distances below and above each value) for these intervals; 0 where none."""
    below = [e.value - e.low if e is not None and math.isfinite(e.low) else 0.0 for e in found]
    above = [e.high - e.value if e is not None and math.isfinite(e.high) else 0.0 for e in found]
    return [below, above]


def saving_color(saving: float) -> str:
    return "gray" if not math.isfinite(saving) else BAD if saving < 0 else GOOD


@dataclass(frozen=True)
class FigureSpec:
    """One figure a kind draws: its file name, caption, the table it illustrates (its key), how to draw."""

    name: str
    caption: str
    after: str
    draw: Callable[[], Figure]


@dataclass(frozen=True)
class WrittenFigure:
    path: Path
    caption: str
    after: str


def write_figures(specs: list[FigureSpec], out_dir: Path) -> list[WrittenFigure]:
    """Draw each figure into out_dir (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(RC):
        for spec in specs:
            path = out_dir / spec.name
            atomic_write_bytes(path, png(spec.draw()))
            written.append(WrittenFigure(path, spec.caption, spec.after))
    return written
