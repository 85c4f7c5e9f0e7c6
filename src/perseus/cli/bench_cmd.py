"""`perseus bench`: closed-loop, open-loop (constant/Poisson), trace or mixed load at any KServe-v2
endpoint, one level or a perf_analyzer-style sweep; each level one trial judged VALID/INVALID, stored as one
run. The flags; orchestrate.bench does the work."""

import json
from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.bench_csv import write_bench_csv
from perseus.cli.bench_output import (
    actors_table,
    bench_json,
    bench_table,
    sending_table,
    server_table,
    verdict_lines,
)
from perseus.cli.common import DbOption, QuietHostOption, console, open_store, split_models
from perseus.cli.errors import INVALID_EXIT, SLA_EXIT
from perseus.cli.knobs import with_knobs
from perseus.cli.progress import RichReporter
from perseus.config.inputs import NORMAL
from perseus.config.knobs import Knobs
from perseus.orchestrate.bench import BenchResult, run_bench
from perseus.orchestrate.bench_plan import BenchSettings, plan_bench

EPILOG = (
    "Exit status: 0 when every level is VALID (and a single level meets --sla); "
    f"{INVALID_EXIT} when a level is INVALID (keep 0 with --allow-invalid); "
    f"{SLA_EXIT} when a single level misses --sla, or a sweep's first level is already past its "
    "threshold; 2 a bad flag; 3 a bad model; 4 the server failed; 5 the endpoint is unreachable or "
    "refused a request."
)


@with_knobs()
def bench(
    url: Annotated[
        str | None,
        typer.Option(
            help="remote backend: host:port of any KServe-v2 server (gRPC, or HTTP with --protocol)"
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="model(s), comma-separated; a closed loop sends them in turn. With --backend embedded or "
            "inprocess these are model specs to serve, e.g. resnet50 or synthetic-sleep:service_ms=20"
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="remote: the server at --url; embedded: start tritonserver for --model; inprocess: the "
            "same models run by onnxruntime directly (the reference without serving overhead)"
        ),
    ] = "remote",
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="closed loop: virtual users (the default load, with 1)")
    ] = None,
    concurrency_range: Annotated[
        str | None,
        typer.Option(
            help="sweep closed loops START:END[:STEP] (END included), a trial and a row per level, "
            "as perf_analyzer does"
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="open loop: req/s offered to each --model")
    ] = None,
    request_rate_range: Annotated[
        str | None,
        typer.Option(help="sweep open loops START:END[:STEP] req/s per model, a trial and a row per level"),
    ] = None,
    latency_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="ms: a sweep stops at the first level whose latency (mean, or --percentile's) is above it",
        ),
    ] = None,
    percentile: Annotated[
        float | None,
        typer.Option(
            min=1,
            max=99.99,
            help="the latency percentile to headline, judge stability on and hold to --latency-threshold "
            "(default: the mean, as perf_analyzer)",
        ),
    ] = None,
    arrival: Annotated[str, typer.Option(help="open-loop arrivals: poisson or constant")] = "poisson",
    trace: Annotated[
        Path | None, typer.Option(help="replay a CSV of t_offset_s,model[,batch]", dir_okay=False)
    ] = None,
    mix: Annotated[
        str | None, typer.Option(help="open loop per model, e.g. resnet50=40,mobilenet_v2=120")
    ] = None,
    protocol: Annotated[str, typer.Option(help="grpc or http")] = "grpc",
    workers: Annotated[
        int, typer.Option(min=1, help="sending processes, or Ray actors with --ray (exact merge of results)")
    ] = 1,
    duration: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="measured seconds after warm-up, per level (the maximum with --until-stable); "
            "default 10, or a --trace's own length",
        ),
    ] = None,
    until_stable: Annotated[
        bool,
        typer.Option(help="stop a level once its last 3 windows agree within --stability-percentage"),
    ] = False,
    measurement_interval: Annotated[
        float | None,
        typer.Option(
            "-p",
            "--measurement-interval",
            min=1,
            help="ms: one stability window (default: --duration / 3; 1000 with --until-stable)",
        ),
    ] = None,
    stability_percentage: Annotated[
        float,
        typer.Option(
            "-s",
            "--stability-percentage",
            min=0.1,
            max=99,
            help="%: the last 3 windows must agree on throughput and latency within this",
        ),
    ] = 10.0,
    max_trials: Annotated[
        int | None,
        typer.Option(
            "-r",
            "--max-trials",
            min=3,
            help="the most windows a level may take to become stable (implies --until-stable)",
        ),
    ] = None,
    warmup: Annotated[float, typer.Option(min=0.0, help="seconds of load discarded first")] = 2.0,
    sla: Annotated[
        str | None, typer.Option(help="target such as p95=750ms: met or not, and QoS satisfaction")
    ] = None,
    max_in_flight: Annotated[
        int | None,
        typer.Option(
            min=1, help="open loop: cap on outstanding requests per worker; held-back sends count as late"
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="batch size of each request")] = 1,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds before a request counts as timed out")
    ] = 60.0,
    seed: Annotated[
        int,
        typer.Option(
            help="seed of the arrival process and of normal inputs "
            "(each level of a rate sweep draws its own from it)"
        ),
    ] = 0,
    input_data: Annotated[
        str,
        typer.Option(
            "--input-data",
            metavar="DATA",
            help="the input values each request sends (the server's work depends on them): normal "
            "(standard normal, seeded), zeros, random (perf_analyzer 2.51's default random bytes, for "
            "comparing with it) or file:PATH (.npz with an array per input name, or .npy for one input; "
            "a batch row, or at least --batch rows)",
        ),
    ] = NORMAL,
    metrics_url: Annotated[
        str | None,
        typer.Option(help="remote backend: Triton's /metrics URL, for the server-side breakdown"),
    ] = None,
    telemetry_interval: Annotated[
        float, typer.Option(min=0.05, help="seconds between telemetry samples (the paper scraped every 1 s)")
    ] = 1.0,
    knobs: Knobs = Knobs(),  # the knob flags, declared by @with_knobs
    json_out: Annotated[
        bool,
        typer.Option("--json", help='print one JSON object (a sweep: its levels under "levels")'),
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "-f",
            "--csv",
            dir_okay=False,
            help="also write a CSV row per level: perf_analyzer's columns, then ours",
        ),
    ] = None,
    allow_invalid: Annotated[
        bool,
        typer.Option(
            "--allow-invalid", help="exit 0 even when a level is INVALID (the verdict is still printed)"
        ),
    ] = False,
    require_quiet_host: QuietHostOption = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="send from --workers Ray actors spread over a cluster's nodes, each its share of one "
            "schedule (its own seed); their records merge exactly, and each actor is judged on its own "
            "lateness: auto (the cluster running here, else a local one for this command) or host:port; "
            "needs the ray extra",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Send load and measure it. Latency counts from each request's intended send time
    (coordinated-omission-correct; p50/p95/p99), and separately from its actual send (sent_*).
    One request per model is sent first, so a request the server refuses is reported before any load."""
    plan = plan_bench(  # a flag mistake stops here, before the store is opened
        BenchSettings(
            models=tuple(split_models(model)) if model else (),
            backend=backend,
            url=url,
            protocol=protocol,
            metrics_url=metrics_url,
            concurrency=concurrency,
            concurrency_range=concurrency_range,
            rate=rate,
            request_rate_range=request_rate_range,
            latency_threshold_ms=latency_threshold,
            percentile=percentile,
            measurement_interval_ms=measurement_interval,
            stability_percentage=stability_percentage,
            max_trials=max_trials,
            arrival=arrival,
            trace=trace,
            mix=mix,
            workers=workers,
            duration_s=duration,
            until_stable=until_stable,
            warmup_s=warmup,
            sla=sla,
            max_in_flight=max_in_flight,
            batch=batch,
            timeout_s=timeout,
            seed=seed,
            inputs=input_data,
            telemetry_interval_s=telemetry_interval,
            knobs=knobs,
            require_quiet_host=require_quiet_host,
            ray=ray,
        )
    )
    with open_store(db) as store, RichReporter(console, quiet=json_out) as reporter:
        result = run_bench(plan, store, reporter)
    if csv_file is not None:
        write_bench_csv(result, csv_file)
    if json_out:
        print(json.dumps(bench_json(result)))
    else:
        _print(result, store.path, csv_file)
    code = exit_code(result, allow_invalid)
    if code:
        raise typer.Exit(code)


def exit_code(result: BenchResult, allow_invalid: bool) -> int:
    if result.invalid and not allow_invalid:
        return INVALID_EXIT
    return SLA_EXIT if result.levels[0].past else 0


def _print(result: BenchResult, db: Path, csv_file: Path | None) -> None:
    console.print(bench_table(result))
    console.print(sending_table(result))
    if any(r.outcome.actors for r in result.levels):
        console.print(actors_table(result))
    last = result.levels[-1].outcome
    if last.server or last.usage:
        console.print(server_table(last))
    for line in verdict_lines(result):
        console.print(line)
    if csv_file is not None:
        console.print(f"[dim]CSV written to {csv_file}[/dim]")
    console.print(f"[dim]stored as run {result.run_id} in {db}[/dim]")
