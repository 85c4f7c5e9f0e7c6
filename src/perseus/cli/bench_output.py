"""How `perseus bench` prints a trial: a table per model and the verdict, or one JSON object."""

from dataclasses import asdict
from typing import Any

from rich.markup import escape
from rich.table import Table

from perseus.loadgen import ALL, LatencySummary
from perseus.orchestrate.trial import TrialOutcome


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def bench_table(summaries: dict[str, LatencySummary]) -> Table:
    table = Table(title="perseus bench — latency from intended send time (coordinated-omission-correct)")
    table.add_column("model", no_wrap=True)
    for column in (
        "offered\nreq/s",
        "served\nreq/s",
        "p50\nms",
        "p95\nms",
        "p99\nms",
        "p99.9\nms",
        "max\nms",
        "p99 from\nsend ms",
        "late\nsends",
        "errors",
        "QoS",
    ):
        table.add_column(column, justify="right")
    for tenant, s in summaries.items():
        table.add_row(
            "all" if tenant == ALL else tenant,
            "-" if s.offered_rps is None else f"{s.offered_rps:.1f}",
            f"{s.throughput_rps:.1f}",
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            _ms(s.p99_ms),
            _ms(s.p99_9_ms),
            _ms(s.max_ms),
            _ms(s.sent_p99_ms),
            f"{s.late_fraction:.1%}",
            str(s.errors),
            "-" if s.qos_satisfaction is None else f"{s.qos_satisfaction:.1%}",
            style="bold" if tenant == ALL else None,
        )
    return table


def _us(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:,.0f}"


def server_table(outcome: TrialOutcome) -> Table:
    """Inside the server per model (Triton's /metrics over the whole trial, warm-up included), and what each
    tenant's processes used (CPU in cores, peak resident memory)."""
    table = Table(title="server side — Triton /metrics over the trial; tenant processes (psutil)")
    table.add_column("model", no_wrap=True)
    for column in (
        "requests",
        "avg\nbatch",
        "queue\nµs",
        "compute\nµs",
        "in/out\nµs",
        "server\ntotal µs",
        "CPU\ncores",
        "RSS\nMiB",
    ):
        table.add_column(column, justify="right")
    for tenant in sorted({*outcome.server, *outcome.usage}):
        server, usage = outcome.server.get(tenant, {}), outcome.usage.get(tenant, {})
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


def verdict_lines(outcome: TrialOutcome) -> list[str]:
    overall = outcome.summaries[ALL]
    lines = []
    if outcome.status == "valid":
        lines.append("[green]VALID[/green]")
    else:
        lines.append("[red]INVALID[/red]: " + escape(outcome.reason or ""))
    if overall.sla is not None:
        met = "[green]met[/green]" if overall.sla_met else "[red]not met[/red]"
        lines.append(f"SLA {escape(overall.sla)}: {met}; QoS satisfaction {overall.qos_satisfaction:.1%}")
    if overall.errors_by_kind:
        lines.append("errors: " + escape(", ".join(f"{k} × {n}" for k, n in overall.errors_by_kind.items())))
    lines += [f"[yellow]telemetry: {escape(notice)}[/yellow]" for notice in outcome.notices]
    lines.append(
        f"load generator: {outcome.loadgen_cpu_us_per_request:.1f} µs CPU per request "
        f"({outcome.loadgen_core_fraction:.1%} of a core), lateness p99 "
        f"{_ms(overall.lateness_p99_ms)} ms"
    )
    return lines


def bench_json(outcome: TrialOutcome, run_id: int) -> dict[str, Any]:
    """What `perseus bench --json` prints: the overall summary, the verdict, and each model's summary."""
    overall = outcome.summaries[ALL]
    data: dict[str, Any] = {
        key: getattr(overall, key)
        for key in (
            "throughput_rps",
            "offered_rps",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "p99_9_ms",
            "max_ms",
            "mean_ms",
            "sent_p50_ms",
            "sent_p95_ms",
            "sent_p99_ms",
            "requests",
            "errors",
            "errors_by_kind",
            "late_fraction",
            "lateness_p99_ms",
            "sla",
            "sla_met",
            "qos_satisfaction",
        )
    }
    data["intended_p99_ms"] = overall.p99_ms
    data.update(
        valid=outcome.status == "valid",
        invalid_reasons=outcome.reasons,
        loadgen_cpu_us_per_request=outcome.loadgen_cpu_us_per_request,
        loadgen_core_fraction=outcome.loadgen_core_fraction,
        run_id=run_id,
        server=outcome.server,
        usage=outcome.usage,
        telemetry_notices=outcome.notices,
        per_model={
            t: {k: v for k, v in asdict(s).items() if k != "histogram"}
            for t, s in outcome.summaries.items()
            if t != ALL
        },
    )
    return data
