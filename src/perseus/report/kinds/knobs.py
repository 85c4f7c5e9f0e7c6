"""Drawing kind `knobs`: the saving of sharing per knob setting, the best one highlighted; every saving
against each model alone at its best measured setting (named), the same-knob saving beside it."""

import math
from typing import Any

from matplotlib.figure import Figure

from perseus.experiments.knobs import Findings
from perseus.experiments.results import ExperimentResults
from perseus.report import fmt
from perseus.report.figure import BAD, DEDICATED, GOOD, FigureSpec, error_bars, finite, new_figure
from perseus.report.fmt import Headline
from perseus.report.kinds import findings_of
from perseus.report.table import INTERVAL_NOTE, Cell, TableData, saving_cell, saving_interval_cell, tone

KNOB_NAMES = {"dynamic_batching": "batching", "intra_op_threads": "threads"}  # short, as in the figure


def knobs_table(knobs: Findings) -> TableData:
    keys = list(dict.fromkeys(k for row in knobs.rows for k in row.setting))
    models = list(dict.fromkeys(m for row in knobs.rows for m in [*row.dedicated_rps, *row.shared_rps]))
    rows = []
    best = None
    for index, row in enumerate(knobs.rows):
        is_best = knobs.best is not None and row == knobs.best
        best = index if is_best else best
        rows.append(
            [Cell(_value(row.setting.get(k, fmt.MISSING))) for k in keys]
            + [Cell(fmt.rate(row.shared_rps.get(m))) for m in models]
            + [saving_cell(row.saving), saving_interval_cell(row.saving_interval)]
            + [Cell(fmt.rate(row.dedicated_rps.get(m)), "dim") for m in models]
            + [Cell(fmt.pct(row.same_knobs_saving, signed=True), "dim")]
            + [Cell("yes", "good") if row.sla_met else Cell("no", "bad")]
            + [Cell("★ best", "good") if is_best else Cell("")]
        )
    return TableData(
        "knobs",
        "Knobs — saving of sharing per setting, against each model alone at its best",
        [
            *(KNOB_NAMES.get(k, k) for k in keys),
            *(f"shared {m} req/s" for m in models),
            "saving",
            "interval",
            *(f"same knobs: λ {m} alone req/s" for m in models),
            "same knobs: saving",
            "SLA met",
            "",
        ],
        rows,
        bold=frozenset() if best is None else frozenset({best}),
        labels=len(keys),
        notes=against_notes(knobs),
    )


def against_notes(knobs: Findings) -> list[Cell]:
    if not knobs.against:
        return []
    best = knobs.headline.saving if knobs.headline is not None else None
    return [
        Cell(
            f"saving: {fmt.against_text(knobs.against)} (each model's best setting alone in this run, the "
            "cheapest dedicated serving measured, searched again after it was chosen)."
            + (
                f" The setting that saves most, searched again after it was chosen: "
                f"{fmt.saving_interval_text(knobs.confirmed.saving_interval)}."
                if knobs.confirmed is not None and knobs.confirmed.saving_interval is not None
                else ""
            ),
            tone(best),
        ),
        Cell(
            "same knobs: against dedicated servers with the row's own knobs, which may leave cores idle "
            "and so overstate what sharing saves.",
            "dim",
        ),
        Cell(f"saving interval: from the λ intervals (interval arithmetic). {INTERVAL_NOTE}", "dim"),
    ]


def _value(value: object) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _short(key: str, value: object) -> str:
    return f"{KNOB_NAMES.get(key, key)} {_value(value)}"


def knob_labels(knobs: Findings) -> tuple[list[str], str]:
    """Per row, only the knobs that differ between rows; the ones all rows share go in one note."""
    keys = list(dict.fromkeys(k for row in knobs.rows for k in row.setting))
    varying = [k for k in keys if len({repr(r.setting.get(k)) for r in knobs.rows}) > 1]
    fixed = [k for k in keys if k not in varying and knobs.rows]
    labels = [", ".join(_short(k, r.setting.get(k)) for k in varying) or "defaults" for r in knobs.rows]
    common = ", ".join(_short(k, knobs.rows[0].setting.get(k)) for k in fixed)
    return labels, common


def knobs_figure(results: ExperimentResults, knobs: Findings) -> Figure:
    rows = knobs.rows
    fig, (ax,) = new_figure("Saving of sharing per knob setting", results, height_in=2.0 + 0.45 * len(rows))
    labels, common = knob_labels(knobs)
    y = list(range(len(rows)))[::-1]  # first setting on top
    savings = [100 * finite(r.saving) for r in rows]
    colors = [GOOD if r == knobs.best else (BAD if (r.saving or 0) < 0 else DEDICATED) for r in rows]
    found = [r.saving_interval.scaled(100) if r.saving_interval is not None else None for r in rows]
    ax.barh(y, savings, 0.6, color=colors, xerr=error_bars(found), capsize=4)
    span = max([1.0, *(abs(s) for s in savings if math.isfinite(s))])
    for yi, row, value, interval in zip(y, rows, savings, found, strict=True):
        if not math.isfinite(value):
            ax.text(0.02 * span, yi, "no shared rate met the SLAs", va="center", color="gray", fontsize=10)
            continue
        best = "  ★ best" if row == knobs.best else ""
        same = f"  (same knobs {fmt.pct(row.same_knobs_saving, signed=True)})"
        # Right of the bar's end (and its error bar), or of zero for a bar going left: its text then never
        # runs into the names.
        end = max(value, interval.high if interval is not None and math.isfinite(interval.high) else value)
        ax.text(
            max(end, 0.0) + 0.02 * span,
            yi,
            f"{fmt.pct(row.saving, signed=True)}{best}{same}",
            va="center",
            ha="left",
            fontweight="bold" if best else "normal",
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    lowest = min((v for v in savings if math.isfinite(v)), default=0.0)
    highest = max((v for v in savings if math.isfinite(v)), default=0.0)
    ax.set_xlim(lowest * 1.1 if lowest < 0 else -0.1 * span, max(highest, 0.0) + 1.6 * span)
    ax.set_xlabel(
        "saving of sharing against each model alone at its best setting (%)"
        + (f"\nall settings: {common}" if common else "")
    )
    return fig


def caption(knobs: Findings) -> str:
    return (
        "Saving of sharing under each knob setting, "
        + (fmt.against_text(knobs.against) if knobs.against else "against no dedicated peak")
        + " (the best dedicated setting measured; in brackets, against dedicated servers with the same "
        "knobs); the best feasible setting is highlighted."
    )


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    return [knobs_table(found)] if found.rows else []


def figures(results: ExperimentResults) -> list[FigureSpec]:
    found = findings_of(results.findings, Findings)
    return (
        [FigureSpec("knobs.png", caption(found), "knobs", lambda: knobs_figure(results, found))]
        if found.rows
        else []
    )


def headline(findings: Any) -> Headline | None:
    found = findings_of(findings, Findings)
    best = found.headline
    if best is None or best.saving_interval is None or not fmt.finite(best.saving):
        return None
    setting = fmt.setting_text(best.setting)
    if found.confirmed is not None and found.best is not None:
        chosen = fmt.pct(found.best.saving, signed=True)
        where = (
            f"with the setting chosen as saving most ({setting}), measured again after the choice "
            f"({chosen} when chosen), {fmt.against_text(found.against)}"
        )
    else:
        where = (
            f"with the best setting ({setting}; not measured again: leans high), "
            f"{fmt.against_text(found.against)}"
        )
    return fmt.saving_headline(best.saving_interval, where)
