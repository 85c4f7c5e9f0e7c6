"""How `perseus bench` prints its levels: a table (a row per level and model) and the verdicts, or one
JSON object per level."""

from dataclasses import asdict
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from perseus.cli.notices import worth_showing
from perseus.config.inputs import describe_input_data
from perseus.loadgen import ALL, LatencySummary
from perseus.orchestrate.bench import BenchResult, LevelResult, headline_label, headline_ms
from perseus.orchestrate.trial import TrialOutcome
from perseus.report import fmt
from perseus.store.summary import OTHER_CORES, speed_of, steal_of


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def level_label(result: LevelResult) -> str:
    """The load of a level as a row shows it: `c=4` (closed loop), `50/s` (open loop, per model)."""
    level = result.level
    if level.concurrency is not None:
        return f"c={level.concurrency}"
    if level.rate_rps is not None:
        return f"{level.rate_rps:g}/s"
    return result.level.spec.mode


def _rows(result: LevelResult) -> list[tuple[str, LatencySummary]]:
    """Each model, and all together when there are several."""
    summaries = result.outcome.summaries
    models = [(t, s) for t, s in summaries.items() if t != ALL]
    return [*models, ("all", summaries[ALL])] if len(models) > 1 else models or [("all", summaries[ALL])]


def _table(title: str) -> Table:
    # No rules between columns, two spaces instead: ten columns of numbers fit 80 columns uncut.
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 1),
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
        header_style="bold",
    )


def bench_table(bench: BenchResult) -> Table:
    """Throughput and latency (from the intended send) of each level and model, and the verdict."""
    settings = bench.plan.settings
    batch = bench.plan.levels[0].batch
    extra = settings.percentile is not None and settings.percentile not in (50.0, 95.0, 99.0)
    table = _table("latency from the intended send time, ms (coordinated-omission-correct)")
    table.add_column("load", no_wrap=True)
    table.add_column("model", no_wrap=True)
    headers = ["req/s"] + (["infer/s"] if batch > 1 else []) + ["p50", "p95", "p99"]
    headers += [headline_label(settings.percentile)] if extra else []
    headers += [] if extra else ["max"]  # room for the --percentile column at 80 columns
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for result in bench.levels:
        verdict = "VALID" if result.outcome.status == "valid" else result.outcome.status.upper()
        for name, s in _rows(result):
            cells = [f"{s.throughput_rps:.1f}"] + ([f"{s.throughput_rps * batch:.1f}"] if batch > 1 else [])
            cells += [_ms(s.p50_ms), _ms(s.p95_ms), _ms(s.p99_ms)]
            cells += [_ms(headline_ms(s, settings.percentile))] if extra else []
            cells += [] if extra else [_ms(s.max_ms)]
            cells += [verdict]
            table.add_row(level_label(result), name, *cells, style="bold" if name == "all" else None)
    return table


def sending_table(bench: BenchResult) -> Table:
    """How the load went out: offered vs drawn (open loop), latency from the actual send, late sends,
    errors and QoS satisfaction."""
    table = _table("sending: offered and drawn req/s, p99 from the actual send (ms)")
    table.add_column("load", no_wrap=True)
    table.add_column("model", no_wrap=True)
    for header in ("offered", "drawn", "sent p99", "late", "errors", "QoS"):
        table.add_column(header, justify="right", no_wrap=True)
    for result in bench.levels:
        for name, s in _rows(result):
            table.add_row(
                level_label(result),
                name,
                _rate(s.offered_rps),
                _rate(s.drawn_rps),
                _ms(s.sent_p99_ms),
                f"{s.late_fraction:.1%}",
                str(s.errors),
                "-" if s.qos_satisfaction is None else f"{s.qos_satisfaction:.1%}",
                style="bold" if name == "all" else None,
            )
    return table


def actors_table(bench: BenchResult) -> Table:
    """Each Ray load actor of each level: where it ran, what it sent in the window, how late, its CPU."""
    table = _table("Ray load actors: each judged on its own sends")
    table.add_column("load", no_wrap=True)
    for header in ("actor", "node", "sent", "late", "CPU s"):
        table.add_column(header, justify="right", no_wrap=True)
    for result in bench.levels:
        for actor in result.outcome.actors:
            table.add_row(
                level_label(result),
                str(actor["worker"]),
                str(actor["node"]),
                str(actor["sent"]),
                f"{actor['late_fraction']:.1%}",
                f"{actor['cpu_s']:.2f}",
            )
    return table


def _us(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:,.0f}"


def server_table(outcome: TrialOutcome) -> Table:
    """Inside the server per model (Triton's /metrics over the whole trial, warm-up included), and what each
    tenant's processes used (CPU in cores, peak resident memory)."""
    table = _table("server side: Triton /metrics (µs); tenant processes (cores, RSS MiB)")
    table.add_column("model", no_wrap=True)
    for column in ("requests", "batch", "queue", "compute", "in/out", "total", "cores", "RSS"):
        table.add_column(column, justify="right", no_wrap=True)
    for tenant in sorted({*outcome.server, *outcome.usage}):
        server, usage = outcome.server.get(tenant, {}), outcome.usage.get(tenant, {})
        if not server.get("requests") and not usage:
            continue  # a model of a remote server that this bench did not load
        batch = server.get("avg_batch_size")
        io = [v for v in (server.get("compute_input_us"), server.get("compute_output_us")) if v is not None]
        table.add_row(
            tenant,
            str(server.get("requests", "-")),
            "-" if batch is None else f"{batch:.2f}",
            _us(server.get("queue_us")),
            _us(server.get("compute_infer_us")),
            _us(sum(io)) if len(io) == 2 else "-",
            _us(server.get("request_us")),
            "-" if "cores" not in usage else f"{usage['cores']:.2f}",
            "-" if "rss_peak_bytes" not in usage else f"{usage['rss_peak_bytes'] / 2**20:,.0f}",
        )
    return table


def verdict_lines(bench: BenchResult) -> list[str]:
    lines = []
    for result in bench.levels:
        outcome = result.outcome
        overall = outcome.summaries[ALL]
        prefix = f"{level_label(result)}: " if len(bench.levels) > 1 else ""
        if outcome.status == "valid":
            lines.append(f"{prefix}[green]VALID[/green]")
        else:
            lines.append(f"{prefix}[red]{outcome.status.upper()}[/red]: " + escape(outcome.reason or ""))
        if overall.sla is not None:
            met = "[green]met[/green]" if overall.sla_met else "[red]not met[/red]"
            lines.append(
                f"{prefix}SLA {escape(overall.sla)}: {met}; QoS satisfaction {overall.qos_satisfaction:.1%}"
            )
        if overall.errors_by_kind:
            shown = ", ".join(f"{n} × {k}" for k, n in overall.errors_by_kind.items())
            lines.append(f"{prefix}[red]errors[/red]: " + escape(shown))
    notices = worth_showing(n for result in bench.levels for n in result.outcome.notices)
    lines += [f"[yellow]telemetry: {escape(notice)}[/yellow]" for notice in notices]
    if bench.stopped:
        lines.append(f"[yellow]{escape(bench.stopped)}[/yellow]")
    lines.append(f"inputs: {escape(describe_input_data(bench.plan.spec.inputs))}")
    last = bench.levels[-1].outcome
    lines.append(
        f"load generator: {last.loadgen_cpu_us_per_request:.1f} µs CPU per request "
        f"({last.loadgen_core_fraction:.1%} of a core), lateness p99 "
        f"{_ms(last.summaries[ALL].lateness_p99_ms)} ms"
    )
    lines.append(host_line(bench))
    return lines


def host_line(bench: BenchResult) -> str:
    """CPU steal and the reference speed, on one line: of a sweep (`host, all levels: CPU steal ≤ …`), the
    most any level lost to steal, and the speed at the first level's start and the last level's end."""
    hosts = [result.outcome.host for result in bench.levels]
    steals = [steal for host in hosts if (steal := steal_of(host)) is not None]
    first, last = speed_of(hosts[0]), speed_of(hosts[-1])
    sweep = len(hosts) > 1
    text = fmt.host_text(
        max(steals, default=None), (first[0], last[1]) if first and last else None, at_most=sweep
    )
    return escape(("host, all levels: " if sweep else "host: ") + text)


SUMMARY_KEYS = (
    "throughput_rps",
    "offered_rps",
    "drawn_rps",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p99_9_ms",
    "max_ms",
    "mean_ms",
    "sent_p50_ms",
    "sent_p90_ms",
    "sent_p95_ms",
    "sent_p99_ms",
    "sent_mean_ms",
    "requests",
    "errors",
    "errors_by_kind",
    "late_fraction",
    "lateness_p99_ms",
    "sla",
    "sla_met",
    "qos_satisfaction",
)


SPEED_KEYS = ("start_ops_s", "end_ops_s")  # --json's host_speed: the reference's ops/s (telemetry.speed)


def level_json(bench: BenchResult, result: LevelResult) -> dict[str, Any]:
    """One level as JSON: the overall summary, the load, the verdict, and each model's summary."""
    outcome, settings = result.outcome, bench.plan.settings
    overall = outcome.summaries[ALL]
    batch = result.level.batch
    data: dict[str, Any] = {key: getattr(overall, key) for key in SUMMARY_KEYS}
    data.update(
        concurrency=result.level.concurrency,
        request_rate=result.level.rate_rps,
        batch=batch,
        inputs=result.level.spec.inputs,
        infer_per_s=overall.throughput_rps * batch,
        intended_p99_ms=overall.p99_ms,
        latency_measure=headline_label(settings.percentile),
        latency_ms=headline_ms(overall, settings.percentile),
        past_threshold=result.past,
        valid=outcome.status == "valid",
        status=outcome.status,
        invalid_reasons=outcome.reasons,
        loadgen_cpu_us_per_request=outcome.loadgen_cpu_us_per_request,
        loadgen_core_fraction=outcome.loadgen_core_fraction,
        sent=outcome.sent,
        actors=outcome.actors,
        run_id=bench.run_id,
        trial_id=outcome.trial_id,
        server=outcome.server,
        usage=outcome.usage,
        telemetry_notices=outcome.notices,
        other_cores=outcome.host.get(OTHER_CORES),
        steal_cores=steal_of(outcome.host),
        host_speed=None
        if (speed := speed_of(outcome.host)) is None
        else dict(zip(SPEED_KEYS, speed, strict=True)),
        per_model={
            t: {k: v for k, v in asdict(s).items() if k != "histogram"}
            for t, s in outcome.summaries.items()
            if t != ALL
        },
    )
    return data


def bench_json(bench: BenchResult) -> dict[str, Any]:
    """What `perseus bench --json` prints: one level's object; a sweep's levels under "levels"."""
    if not bench.plan.sweep:
        return level_json(bench, bench.levels[0])
    return {
        "run_id": bench.run_id,
        "stopped": bench.stopped,
        "levels": [level_json(bench, result) for result in bench.levels],
    }
