"""The report's tables as plain data (title, columns, rows of text cells with a tone), so the terminal and
the HTML page show exactly the same numbers; the cells and tables every kind uses (λ, probes)."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from perseus.core.interval import Estimate
from perseus.experiments.analysis import Peak, Probe
from perseus.report import fmt
from perseus.store.summary import speed_of, steal_of
from perseus.telemetry.steal import STEAL_BUSY_CORES

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


def per_tenant(values: dict[str, float], show: Callable[[float | None], str]) -> str:
    """One tenant: just the number; several: `a 12.0 + b 12.0`."""
    if len(values) == 1:
        return show(next(iter(values.values())))
    return " + ".join(f"{t} {show(v)}" for t, v in values.items())


def tone(saving: float | None) -> Tone | None:
    if saving is None or not math.isfinite(saving):
        return None
    return "bad" if saving < 0 else "good"


def saving_cell(saving: float | None) -> Cell:
    if saving is None or not math.isfinite(saving):
        return Cell(fmt.MISSING, "dim")
    return Cell(fmt.pct(saving, signed=True), "bad" if saving < 0 else "good")


def saving_interval_cell(est: Estimate | None) -> Cell:
    """A saving's interval; `≈ 0` and a warning tone when it holds zero (the sign is not established)."""
    if est is None or not fmt.has_interval(est):
        return Cell(fmt.MISSING, "dim")
    text = fmt.pct_span(est)
    return Cell(f"{text} ≈ 0", "warn") if est.spans_zero() else Cell(text, tone(est.value))


def plain(*texts: str) -> list[Cell]:
    return [Cell(t) for t in texts]


def ratio_cell(value: float | None) -> Cell:
    if value is None or not math.isfinite(value):
        return Cell(fmt.MISSING, "dim")
    return Cell(fmt.ratio(value), "bad" if value >= 1.5 else "warn" if value >= 1.1 else None)


def peaks_table(peaks: list[Peak]) -> TableData:
    rows = []
    for p in peaks:
        feasible = sum(1 for probe in p.probes if probe.feasible)
        rows.append(
            plain(
                p.label,
                per_tenant(p.rates_rps, fmt.rate),
                fmt.span(p.total, fmt.rate),
                per_tenant(p.p95_ms, fmt.ms),
                p.method,
                f"{feasible} / {len(p.probes)}",
            )
        )
    return TableData(
        "peaks",
        "Peak throughput λ within the SLA",
        ["placement", "λ req/s", "interval", "p95 ms at λ", "search", "feasible / probes"],
        rows,
        notes=[Cell(INTERVAL_NOTE, "dim")],
    )


INTERVAL_NOTE = (
    "Interval: over K searches on fresh servers (repeats: K), λ is their geometric mean and the interval "
    "the 90% t-interval of log λ; of one search, its bracket (highest feasible to lowest infeasible rate), "
    "which leaves out run-to-run spread; searched `bisect+fit`, the 90% interval of the latency curve fitted "
    "to its probes, which leaves it out too."
)


def probes_table(peak: Peak) -> TableData:
    """How λ was found: every probe of the search, feasible or not, with why not (or, for a probe that
    counts though it is not VALID, what flagged it), and how the host was for its last attempt."""
    rows = [
        [
            Cell(str(p.trial_id)),
            Cell(p.name),
            Cell(per_tenant(p.offered_rps, fmt.rate)),
            Cell(per_tenant(p.served_rps, fmt.rate)),
            Cell(per_tenant(p.p95_ms, fmt.ms)),
            Cell(p.status, None if p.status == "valid" else "warn"),
            feasible_cell(p),
            Cell(fmt.num(steal_of(p.host), 2)),
            Cell(fmt.speed(speed_of(p.host))),
            Cell(p.reason or ""),
        ]
        for p in peak.probes
    ]
    return TableData(
        "probes",
        f"Probes of {peak.label}",
        list(PROBE_COLUMNS),
        rows,
        notes=[Cell(HOST_NOTE, "dim")],
        labels=2,
    )


PROBE_COLUMNS: tuple[str, ...] = ("trial", "name", "offered req/s", "served req/s", "p95 ms", "status")
PROBE_COLUMNS += ("feasible", "CPU steal cores", "host speed M ops/s", "why")
HOST_NOTE = (
    f"CPU steal: cores the hypervisor took on average during the trial (over {STEAL_BUSY_CORES:.2f}: "
    "INVALID, host busy); host speed: a fixed single-thread workload's speed at the trial's start → end, "
    f"to compare trials measured at different times; {fmt.MISSING}: not recorded by the version that "
    "measured it."
)


def feasible_cell(probe: Probe) -> Cell:
    """yes; `yes, flagged` for a probe that counts though it is not VALID (its reason says why); no."""
    if not probe.feasible:
        return Cell("no", "bad")
    return Cell("yes", "good") if probe.status == "valid" else Cell("yes, flagged", "warn")
