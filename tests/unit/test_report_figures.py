"""Figures are real PNG files, one per present section, written atomically and sized to read at 800 px."""

import dataclasses
import math
import struct
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg

from perseus.core.interval import Estimate
from perseus.cost.saving import Alone
from perseus.experiments import interference, knobs, qos
from perseus.experiments.frontier import Fig2, FrontierPoint
from perseus.experiments.interference import Slowdown
from perseus.experiments.results import ExperimentResults
from perseus.report import kinds
from perseus.report.figure import WrittenFigure, write_figures
from perseus.report.kinds.frontier import fig2_figure
from perseus.report.kinds.knobs import knob_labels
from tests.unit.test_report_factory import (
    A,
    B,
    every_kind,
    frontier_findings,
    interference_findings,
    knobs_findings,
    sample_results,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])  # IHDR comes first
    return width, height


def _write(results: ExperimentResults, folder: Path) -> list[WrittenFigure]:
    return write_figures(kinds.figures(results), folder)


def test_every_section_gets_a_png(tmp_path: Path) -> None:
    written = [f for results in every_kind() for f in _write(results, tmp_path)]
    paths = [f.path for f in written]
    assert [p.name for p in paths] == [
        "fig1.png",
        "fig2-frontier.png",
        "qos.png",
        "interference.png",
        "copies.png",
        "knobs.png",
    ]
    for path in paths:
        width, height = _size(path)
        assert width == 1000 and 300 < height < 800, (path.name, width, height)
        assert path.stat().st_size > 15_000  # drawn, not blank
    assert all(f.caption for f in written)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_missing_sections_draw_nothing(tmp_path: Path) -> None:
    assert _write(sample_results(frontier_findings(fig1=None, fig2=None)), tmp_path) == []
    assert _write(sample_results(qos.Findings({}, []), "qos-sweep"), tmp_path) == []
    assert _write(sample_results(knobs.Findings([], None, {}), "knobs"), tmp_path) == []
    only_copies = interference.Findings({}, [], interference_findings().copies)
    assert [f.path.name for f in _write(sample_results(only_copies, "interference"), tmp_path)] == [
        "copies.png"
    ]


def test_nan_values_do_not_break_figures(tmp_path: Path) -> None:
    found = frontier_findings().fig2
    assert found is not None
    nan = Estimate.exact(math.nan)
    points = [dataclasses.replace(p, saving_interval=nan) for p in found.points]
    fig2 = dataclasses.replace(found, points=points, best=points[0])
    broken = interference.Findings(
        {},
        [Slowdown(A, [B], False, 10.0, 0.0, 50.0)],
        [Slowdown(A, ["3 × resnet50"], True, 3.0, math.nan, 9.0)],
    )
    written = _write(sample_results(frontier_findings(fig2=fig2)), tmp_path)
    written += _write(sample_results(broken, "interference"), tmp_path)
    assert len(written) == 4 and all(_size(f.path)[0] == 1000 for f in written)


def test_knob_labels_show_only_what_varies() -> None:
    labels, common = knob_labels(knobs_findings())
    assert labels[0] == "instances 1, batching off" and labels[3] == "instances 2, batching on"
    assert common == "pinning shared"


def test_frontier_labels_of_close_points_do_not_overlap() -> None:
    """Run 13's frontier had (20.6, 25.6) at -6.2% and the shared peak (21.7, 21.7) at -4.9%: their
    labels printed over each other."""
    peaks = {A: 27.5, B: 133.7}
    rates = [(27.5, 0.0), (6.9, 119.1), (13.8, 68.9), (20.6, 25.6), (21.7, 21.7), (0.0, 133.7)]
    points = [
        FrontierPoint(
            {A: a, B: b}, Estimate.exact(0.0 if 0.0 in (a, b) else a / 27.5 + b / 133.7 - 1), source
        )
        for (a, b), source in zip(
            rates, ["dedicated", *["measured"] * 3, "shared peak", "dedicated"], strict=True
        )
    ]
    against = {m: Alone(m, r, {}) for m, r in peaks.items()}
    fig = fig2_figure(sample_results(), Fig2((A, B), against, points, points[1]))
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw_without_rendering()
    labels = [t for t in fig.axes[0].texts if t.get_text().endswith("%")]
    assert len(labels) == 4
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(one.overlaps(other) for i, one in enumerate(boxes) for other in boxes[i + 1 :])
    legend = fig.axes[0].get_legend().get_window_extent(renderer)
    assert not any(box.overlaps(legend) for box in boxes)
    ax = fig.axes[0]
    for label, box in zip(labels, boxes, strict=True):  # nor does a label cover another point
        others = [ax.transData.transform(p) for p in rates if p != label.xy]
        assert not any(box.contains(x, y) for x, y in others), label.get_text()
