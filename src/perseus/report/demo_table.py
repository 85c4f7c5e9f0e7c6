"""The demo's table: dedicated vs multi-tenant throughput, p95, $ per 1M inferences, and the saving."""

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perseus.cost import DemoSummary


def render_demo(summary: DemoSummary, console: Console) -> None:
    table = Table(
        title=f"Dedicated vs multi-tenant serving — run {summary.run_id} "
        f"(SLA p95 ≤ {summary.sla_p95_ms:g} ms)"
    )
    table.add_column("model", no_wrap=True)
    for column in (
        "dedicated\nreq/s",
        "dedicated\np95 ms",
        "shared\nreq/s",
        "shared\np95 ms",
        "$/1M inf.\ndedicated",
        "$/1M inf.\nshared",
    ):
        table.add_column(column, justify="right")
    for row in summary.rows:
        table.add_row(
            row.model,
            f"{row.dedicated_rps:.1f}" + ("" if row.dedicated_valid else " ⚠"),
            f"{row.dedicated_p95_ms:.1f}",
            f"{row.shared_rps:.1f}" + ("" if row.shared_valid else " ⚠"),
            f"{row.shared_p95_ms:.1f}",
            f"{row.dedicated_usd_per_1m:.3f}",
            f"{row.shared_usd_per_1m:.3f}",
        )
    console.print(table)
    for warning in summary.warnings:
        console.print(f"[yellow]⚠ {escape(warning)}[/yellow]")
    machines = sum(r.shared_rps / r.dedicated_rps for r in summary.rows)
    console.print(
        f"Serving the shared mix ({' + '.join(f'{r.shared_rps:.1f}' for r in summary.rows)} req/s) dedicated "
        f"takes Σ r/λ = {machines:.3f} machines ({machines * summary.price_usd_per_h:.4f} $/h); "
        f"shared takes 1 ({summary.price_usd_per_h:.4f} $/h, {summary.machine})."
    )
    verdict = "saves" if summary.saving >= 0 else "COSTS MORE by"
    console.print(
        f"[bold]Saving of multi-tenant serving: 1 − 1/(Σ r/λ) = {summary.saving:+.1%}[/bold] "
        f"(sharing {verdict} {abs(summary.saving):.1%})."
    )
    host = summary.provenance.get("host", {})
    console.print(
        f"[dim]{host.get('cpu_model')} × {host.get('logical_cpus')} CPUs; tritonserver "
        f"{summary.provenance.get('versions', {}).get('tritonserver')}; closed loop over gRPC, batch 1, each "
        f"virtual user alternating models (equal request share); "
        f"{summary.provenance.get('weights')}.[/dim]"
    )


def demo_json(summary: DemoSummary) -> dict[str, Any]:
    data = asdict(summary)
    data.pop("provenance")
    return data
