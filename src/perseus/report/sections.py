"""The report's tables as plain data (title, columns, rows of text cells with a tone), built once from
ExperimentResults so the terminal and the HTML page show exactly the same numbers."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from perseus.cost.results import ExperimentResults, Fig1, Fig2, Interference, Knobs, Peak, QosCurve, Slowdown
from perseus.report import fmt

Tone = Literal["good", "bad", "warn", "dim"]


@dataclass(frozen=True)
class Cell:
    text: str
    tone: Tone | None = None


@dataclass(frozen=True)
class TableData:
    key: str  # fig1, costs, fig2, ...: names the section for styling and tests
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    bold: frozenset[int] = frozenset()  # row indices to emphasise (the best point, the best setting)
    notes: list[Cell] = field(default_factory=list)  # sentences under the table
    labels: int = 1  # how many leading columns are names (left-aligned); the rest are numbers


def _per_tenant(values: dict[str, float], show: Callable[[float | None], str]) -> str:
    """One tenant: just the number; several: `a 12.0 + b 12.0`."""
    if len(values) == 1:
        return show(next(iter(values.values())))
    return " + ".join(f"{t} {show(v)}" for t, v in values.items())


def _tone(saving: float | None) -> Tone | None:
    if saving is None or not math.isfinite(saving):
        return None
    return "bad" if saving < 0 else "good"


def _saving_cell(saving: float | None) -> Cell:
    if saving is None or not math.isfinite(saving):
        return Cell(fmt.MISSING, "dim")
    return Cell(fmt.pct(saving, signed=True), "bad" if saving < 0 else "good")


def _plain(*texts: str) -> list[Cell]:
    return [Cell(t) for t in texts]


def peaks_table(peaks: list[Peak]) -> TableData:
    rows = []
    for p in peaks:
        feasible = sum(1 for probe in p.probes if probe.feasible)
        rows.append(
            _plain(
                p.label,
                _per_tenant(p.rates_rps, fmt.rate),
                _per_tenant(p.p95_ms, fmt.ms),
                p.method,
                f"{feasible} / {len(p.probes)}",
            )
        )
    return TableData(
        "peaks",
        "Peak throughput λ within the SLA",
        ["placement", "λ req/s", "p95 ms at λ", "search", "feasible / probes"],
        rows,
    )


def fig1_table(fig1: Fig1) -> TableData:
    rows = []
    for model in fig1.models:
        dedicated = fig1.dedicated.get(model)
        rows.append(
            _plain(
                model,
                fmt.rate(dedicated.total_rps if dedicated else None),
                fmt.ms(dedicated.p95_ms.get(model) if dedicated else None),
                fmt.rate(fig1.shared.rates_rps.get(model)),
                fmt.ms(fig1.shared.p95_ms.get(model)),
            )
        )
    rows.append(
        [
            Cell("all (shared server)", "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.MISSING, "dim"),
            Cell(fmt.rate(fig1.shared.total_rps)),
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
    notes.append(
        Cell(
            f"Saving of multi-tenant serving: 1 − 1/(Σ r/λ) = {fmt.pct(fig1.saving, signed=True)} "
            f"({fmt.saving_words(fig1.saving)}).",
            _tone(fig1.saving),
        )
    )
    return TableData(
        "fig1",
        "Fig 1 — dedicated vs multi-tenant peak throughput",
        ["model", "dedicated λ req/s", "dedicated p95 ms", "shared req/s", "shared p95 ms"],
        rows,
        notes=notes,
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
        _plain(
            c.placement,
            c.machine,
            fmt.num(c.price_usd_per_h, 4),
            fmt.rate(c.throughput_rps),
            fmt.usd(c.usd_per_1m),
        )
        for c in fig1.costs
    ]
    return TableData(
        "costs",
        "Cost per 1M inferences",
        ["placement", "machine", "$/h", "req/s", "$ / 1M inferences"],
        rows,
        labels=2,
    )


def fig2_table(fig2: Fig2) -> TableData:
    a, b = fig2.models
    best = max(
        (i for i, p in enumerate(fig2.points) if math.isfinite(p.saving)),
        key=lambda i: fig2.points[i].saving,
        default=None,
    )
    rows = [
        [
            Cell(fmt.rate(p.rates_rps.get(a))),
            Cell(fmt.rate(p.rates_rps.get(b))),
            Cell(fmt.pct(_share(p.rates_rps.get(a), fig2.peaks.get(a)))),
            Cell(p.source),
            _saving_cell(p.saving),
        ]
        for p in fig2.points
    ]
    return TableData(
        "fig2",
        f"Fig 2 — feasible rate pairs ({a}, {b}) and the saving of sharing",
        [f"r {a} req/s", f"r {b} req/s", f"r {a} / λ {a}", "point", "saving"],
        rows,
        bold=frozenset() if best is None else frozenset({best}),
        labels=0,
        notes=[
            Cell(
                f"λ {a} = {fmt.rate(fig2.peaks.get(a))} req/s, λ {b} = {fmt.rate(fig2.peaks.get(b))} req/s "
                f"(dedicated); best saving {fmt.pct(fig2.max_saving, signed=True)}.",
                _tone(fig2.max_saving),
            )
        ],
    )


def _share(rate: float | None, peak: float | None) -> float | None:
    return rate / peak if rate is not None and peak else None


def probes_table(peak: Peak) -> TableData:
    """How λ was found: every probe of the search, feasible or not, with why not."""
    rows = [
        [
            Cell(str(p.trial_id)),
            Cell(p.name),
            Cell(_per_tenant(p.offered_rps, fmt.rate)),
            Cell(_per_tenant(p.served_rps, fmt.rate)),
            Cell(_per_tenant(p.p95_ms, fmt.ms)),
            Cell(p.status, None if p.status == "valid" else "warn"),
            Cell("yes", "good") if p.feasible else Cell("no", "bad"),
            Cell(p.reason or ""),
        ]
        for p in peak.probes
    ]
    return TableData(
        "probes",
        f"Probes of {peak.label}",
        ["trial", "name", "offered req/s", "served req/s", "p95 ms", "status", "feasible", "why not"],
        rows,
        labels=2,
    )


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


def pair_matrix(interference: Interference) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """Rows (victims), columns (aggressors, in the victims' order so the diagonal is the diagonal) and
    the p95 ratio of each (victim, aggressor)."""
    victims = list(dict.fromkeys(s.victim for s in interference.pairs))
    named = {a for s in interference.pairs for a in s.aggressors}
    aggressors = [v for v in victims if v in named]
    aggressors += [a for s in interference.pairs for a in s.aggressors if a not in aggressors]
    aggressors = list(dict.fromkeys(aggressors))
    ratio = {(s.victim, a): s.p95_ratio for s in interference.pairs for a in s.aggressors}
    return victims, aggressors, ratio


def interference_matrix(interference: Interference) -> TableData | None:
    """victim × aggressor p95 ratio (together / alone) for the pair tests."""
    if not interference.pairs:
        return None
    victims, aggressors, ratio = pair_matrix(interference)
    rows = [
        [Cell(v)]
        + [_ratio_cell(ratio.get((v, a))) if v != a else Cell(fmt.MISSING, "dim") for a in aggressors]
        for v in victims
    ]
    return TableData(
        "interference",
        "Interference — p95 of the victim (row) beside the aggressor (column) / p95 alone",
        ["victim \\ aggressor", *aggressors],
        rows,
    )


def _ratio_cell(value: float | None) -> Cell:
    if value is None or not math.isfinite(value):
        return Cell(fmt.MISSING, "dim")
    return Cell(fmt.ratio(value), "bad" if value >= 1.5 else "warn" if value >= 1.1 else None)


def slowdown_table(interference: Interference) -> TableData | None:
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
            _ratio_cell(s.p95_ratio),
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


def knobs_table(knobs: Knobs) -> TableData:
    keys = list(dict.fromkeys(k for row in knobs.rows for k in row.setting))
    models = list(dict.fromkeys(m for row in knobs.rows for m in [*row.dedicated_rps, *row.shared_rps]))
    rows = []
    best = None
    for index, row in enumerate(knobs.rows):
        is_best = knobs.best is not None and row == knobs.best
        best = index if is_best else best
        rows.append(
            [Cell(str(row.setting.get(k, fmt.MISSING))) for k in keys]
            + [Cell(fmt.rate(row.dedicated_rps.get(m))) for m in models]
            + [Cell(fmt.rate(row.shared_rps.get(m))) for m in models]
            + [_saving_cell(row.saving), Cell("yes", "good") if row.sla_met else Cell("no", "bad")]
            + [Cell("★ best", "good") if is_best else Cell("")]
        )
    return TableData(
        "knobs",
        "Knobs — saving of sharing per setting",
        [
            *keys,
            *(f"λ {m} req/s" for m in models),
            *(f"shared {m} req/s" for m in models),
            "saving",
            "SLA met",
            "",
        ],
        rows,
        bold=frozenset() if best is None else frozenset({best}),
        labels=len(keys),
    )


def tables(results: ExperimentResults) -> list[TableData]:
    """Every table the results have data for, in reading order."""
    found: list[TableData | None] = []
    if results.fig1 is not None:
        found += [fig1_table(results.fig1), costs_table(results.fig1) if results.fig1.costs else None]
    if results.peaks:
        found.append(peaks_table(results.peaks))
    if results.fig2 is not None:
        found.append(fig2_table(results.fig2))
    if results.qos:
        found.append(qos_table(results.qos))
    if results.interference is not None:
        found += [interference_matrix(results.interference), slowdown_table(results.interference)]
    if results.knobs is not None and results.knobs.rows:
        found.append(knobs_table(results.knobs))
    return [t for t in found if t is not None]


def warnings(results: ExperimentResults) -> list[str]:
    """The run's own warnings, plus a line when it did not finish."""
    lines = list(results.warnings)
    if results.status != "done":
        lines.insert(0, f"run {results.status}" + (f": {results.reason}" if results.reason else ""))
    return lines
