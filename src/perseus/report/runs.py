"""What the results store holds, as tables: one line per run (its name, kind, models and verdict), and the
report of a `perseus bench` run (its one trial, per model, and the verdict) read back from the store."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from perseus.experiments.results import RUN_KIND
from perseus.report import fmt
from perseus.report.table import Cell, TableData
from perseus.report.tables import fits
from perseus.store import RunRow, TrialRow
from perseus.store.summary import ALL_TENANTS

BENCH_KIND = "bench"  # runs.kind of a `perseus bench` run
_VERDICTS = {
    "valid": Cell("VALID", "good"),
    "invalid": Cell("INVALID", "bad"),
    "failed": Cell("FAILED", "bad"),
}


@dataclass(frozen=True)
class RunLine:
    id: int
    name: str
    kind: str
    models: list[str]
    verdict: Cell
    trials: int
    started: str


def _models(spec: dict[str, Any]) -> list[str]:
    """An experiment's models (`- resnet50` or `- {model: resnet50, ...}`), or the tenants a bench sent to."""
    found = spec.get("models") or spec.get("tenants") or []
    return [str(m.get("model", "?")) if isinstance(m, dict) else str(m) for m in found]


def _bench_name(spec: dict[str, Any]) -> str:
    mode = spec.get("mode")
    if mode == "closed":
        users = spec.get("concurrency")
        return f"closed loop, {users} user{'s' if users != 1 else ''}"
    if mode == "open":
        rates = [r.get("rate_rps") for r in spec.get("rates") or [] if isinstance(r, dict)]
        total = sum(r for r in rates if isinstance(r, int | float))
        return f"open loop, {total:g} req/s" if total else "open loop"
    return "trace replay" if mode == "trace" else "bench"


def verdict(run: RunRow, trials: list[TrialRow]) -> Cell:
    """A bench run: its trial's VALID / INVALID / FAILED. An experiment: done, or partial (and why) when
    it stopped before its end with some trials kept."""
    if run.status == "running":
        return Cell("running", "warn")
    if run.kind == BENCH_KIND and trials:
        return _VERDICTS.get(trials[-1].status, Cell(trials[-1].status.upper(), "warn"))
    if run.status == "done":
        return Cell("done", "good")
    return Cell("partial" if trials else run.status, "warn")  # `perseus report` says why it stopped


def run_line(run: RunRow, trials: list[TrialRow]) -> RunLine:
    spec = run.spec
    if run.kind == RUN_KIND:
        name, kind = str(spec.get("name") or "-"), str(spec.get("kind") or "-")
    else:
        name, kind = _bench_name(spec) if run.kind == BENCH_KIND else "-", run.kind
    started = run.started_at.replace("T", " ")[:16]  # minutes are enough to tell runs apart
    return RunLine(run.id, name, kind, _models(spec), verdict(run, trials), len(trials), started)


def runs_table(lines: Iterable[RunLine], where: str, width: int | None = None) -> TableData:
    """One row per run; without the start time when the table would not fit `width` columns otherwise
    (the ids are in the order the runs started)."""
    rows = [
        [
            Cell(str(line.id)),
            Cell(line.name),
            Cell(line.kind),
            Cell(", ".join(line.models)),
            line.verdict,
            Cell(str(line.trials)),
            Cell(line.started),
        ]
        for line in lines
    ]
    table = TableData(
        "runs",
        f"runs in {where}",
        ["id", "name", "kind", "models", "verdict", "trials", "started (UTC)"],
        rows,
        labels=5,
    )
    if width is None or fits(table, width, wrap_numbers=True):
        return table
    return TableData(table.key, table.title, table.columns[:-1], [row[:-1] for row in rows], labels=5)


def bench_table(run: RunRow, trial: TrialRow) -> TableData:
    """The bench run's trial per model (and all together), latency from each request's intended send."""
    rows = []
    for tenant, s in trial.summary.tenants.items():
        qos = s.get("qos_satisfaction")
        rows.append(
            [
                Cell("all" if tenant == ALL_TENANTS else tenant),
                Cell(fmt.rate(s.get("offered_rps"))),
                Cell(fmt.rate(s.get("throughput_rps"))),
                Cell(fmt.num(s.get("p50_ms"), 2)),
                Cell(fmt.num(s.get("p95_ms"), 2)),
                Cell(fmt.num(s.get("p99_ms"), 2)),
                Cell(str(s.get("errors", fmt.MISSING))),
                Cell(fmt.pct(s.get("late_fraction"))),
                Cell(fmt.pct(qos) if qos is not None else fmt.MISSING),
            ]
        )
    notes = [_VERDICTS.get(trial.status, Cell(trial.status.upper(), "warn"))]
    if trial.reason:
        notes = [Cell(f"{notes[0].text}: {trial.reason}", notes[0].tone)]
    every = trial.summary.tenant(ALL_TENANTS)
    if every.get("sla"):
        met = "met" if every.get("sla_met") else "not met"
        notes.append(Cell(f"SLA {every['sla']}: {met}", "good" if every.get("sla_met") else "bad"))
    return TableData(
        "bench",
        f"bench run {run.id} — {_bench_name(run.spec)} at {run.spec.get('url') or fmt.MISSING}, latency from "
        "intended send time",
        [
            "model",
            "offered req/s",
            "served req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "late sends",
            "QoS",
        ],
        rows,
        notes=notes,
    )
