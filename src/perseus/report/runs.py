"""What the results store holds, as tables: one line per run (its name, kind, models and verdict), and the
report of a `perseus bench` run (its one trial, per model, and the verdict) read back from the store."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from perseus.config.inputs import describe_input_data
from perseus.experiments.results import RUN_KIND
from perseus.report import fmt
from perseus.report.table import Cell, TableData
from perseus.report.tables import fits
from perseus.store import RunRow, TrialRow
from perseus.store.summary import ALL_TENANTS, speed_of, steal_of

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


def _level(trial_name: str) -> str:
    """A sweep level's label from its trial's name ("bench c=4" → "c=4"); "" for a single trial."""
    return trial_name.removeprefix("bench").strip()


def _bench_name(spec: dict[str, Any]) -> str:
    levels = [_level(str(name)) for name in spec.get("levels") or []]
    if len(levels) > 1:
        loop = "closed" if spec.get("mode") == "closed" else "open"
        return f"{loop}-loop sweep {levels[0]} … {levels[-1]}"
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
    if run.kind == BENCH_KIND and trials:  # a sweep: its worst level
        worst = next(
            (t for status in ("failed", "invalid") for t in trials if t.status == status), trials[-1]
        )
        return _VERDICTS.get(worst.status, Cell(worst.status.upper(), "warn"))
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


def bench_table(run: RunRow, trials: list[TrialRow]) -> TableData:
    """The bench run's trials (one, or a sweep's levels) per model and all together, latency from each
    request's intended send, and each level's verdict and how the host was (CPU steal, reference speed)."""
    rows = []
    sweep = len(trials) > 1
    for trial in trials:
        rows += _bench_rows(trial, sweep)
    notes = []
    for trial in trials:
        note = _VERDICTS.get(trial.status, Cell(trial.status.upper(), "warn"))
        prefix = f"{_level(trial.name)}: " if sweep else ""
        notes.append(Cell(f"{prefix}{note.text}" + (f": {trial.reason}" if trial.reason else ""), note.tone))
        every = trial.summary.tenant(ALL_TENANTS)
        if every.get("sla"):
            met = "met" if every.get("sla_met") else "not met"
            notes.append(
                Cell(f"{prefix}SLA {every['sla']}: {met}", "good" if every.get("sla_met") else "bad")
            )
    notes.append(Cell(f"inputs: {describe_input_data(fmt.input_data(run.spec.get('inputs')))}"))
    for trial in trials:  # how the host was: CPU steal and the reference speed ("-" in older runs)
        prefix, host = f"{_level(trial.name)}: " if sweep else "", trial.summary.host
        notes.append(Cell(f"{prefix}host: {fmt.host_text(steal_of(host), speed_of(host))}", "dim"))
    columns = ["model", "offered req/s", "served req/s", "p50 ms", "p95 ms", "p99 ms"]
    columns += ["errors", "late sends", "QoS"]
    return TableData(
        "bench",
        f"bench run {run.id} — {_bench_name(run.spec)} at {run.spec.get('url') or fmt.MISSING}, latency from "
        "intended send time",
        ["load", *columns] if sweep else columns,
        rows,
        notes=notes,
        labels=2 if sweep else 1,
    )


def _bench_rows(trial: TrialRow, sweep: bool) -> list[list[Cell]]:
    rows = []
    tenants = trial.summary.tenants
    models = [t for t in tenants if t != ALL_TENANTS]
    for tenant, s in tenants.items():
        if tenant == ALL_TENANTS and len(models) == 1:
            continue  # the one model's row says it all
        qos = s.get("qos_satisfaction")
        rows.append(
            ([Cell(_level(trial.name))] if sweep else [])
            + [
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
    return rows
