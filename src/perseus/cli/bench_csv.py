"""`perseus bench -f FILE`: a CSV row per level, perf_analyzer 2.51's columns first, in its order and units
(µs; latency from the actual send; Triton's server-side breakdown — its client send/recv split is not
measured here and left out), then ours: latency from the intended send, drawn vs offered rate, the input
values sent, late sends and the verdict."""

import csv
import io
from pathlib import Path
from typing import Any

from perseus.core.files import atomic_write_text
from perseus.loadgen import ALL
from perseus.orchestrate.bench import BenchResult, LevelResult, headline_label, headline_ms

SERVER_COLUMNS = (
    ("Server Queue", "queue_us"),
    ("Server Compute Input", "compute_input_us"),
    ("Server Compute Infer", "compute_infer_us"),
    ("Server Compute Output", "compute_output_us"),
)


def _us(ms: float) -> float | str:
    return "" if ms != ms else round(ms * 1e3)


def _server_us(result: LevelResult, key: str) -> float | str:
    """A server-side mean over the models, weighted by the requests each served; blank without /metrics."""
    parts: list[tuple[float, float]] = []
    for breakdown in result.outcome.server.values():
        value, requests = breakdown.get(key), breakdown.get("requests")
        if isinstance(value, int | float) and isinstance(requests, int | float) and requests > 0:
            parts.append((float(requests), float(value)))
    total = sum(n for n, _ in parts)
    return round(sum(n * v for n, v in parts) / total) if total else ""


def _row(bench: BenchResult, result: LevelResult) -> dict[str, Any]:
    s = result.outcome.summaries[ALL]
    settings = bench.plan.settings
    batch = result.level.batch
    level = result.level
    row: dict[str, Any] = (
        {"Concurrency": level.concurrency}
        if level.concurrency is not None
        else {"Request Rate": level.rate_rps or s.offered_rps or s.drawn_rps or ""}
    )
    row["Inferences/Second"] = round(s.throughput_rps * batch, 3)
    row.update({name: _server_us(result, key) for name, key in SERVER_COLUMNS})
    row.update(
        {
            "p50 latency": _us(s.sent_p50_ms),
            "p90 latency": _us(s.sent_p90_ms),
            "p95 latency": _us(s.sent_p95_ms),
            "p99 latency": _us(s.sent_p99_ms),
            "Avg latency": _us(s.sent_mean_ms),
            "Offered Rate": "" if s.offered_rps is None else round(s.offered_rps, 3),
            "Requests/Second": round(s.throughput_rps, 3),
            "Drawn Rate": "" if s.drawn_rps is None else round(s.drawn_rps, 3),
            "Batch": batch,
            "Input Data": level.spec.inputs,
            "Intended p50 latency": _us(s.p50_ms),
            "Intended p90 latency": _us(s.p90_ms),
            "Intended p95 latency": _us(s.p95_ms),
            "Intended p99 latency": _us(s.p99_ms),
            "Intended Avg latency": _us(s.mean_ms),
            f"Headline {headline_label(settings.percentile)} latency": _us(
                headline_ms(s, settings.percentile)
            ),
            "Late Fraction": round(s.late_fraction, 6),
            "Errors": s.errors,
            "Verdict": result.outcome.status.upper(),
            "Reasons": "; ".join(result.outcome.reasons),
        }
    )
    return row


def bench_csv(bench: BenchResult) -> str:
    rows = [_row(bench, result) for result in bench.levels]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_bench_csv(bench: BenchResult, path: Path) -> None:
    atomic_write_text(path, bench_csv(bench))
