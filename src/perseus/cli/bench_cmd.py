"""`perseus bench`: closed-loop, open-loop (constant/Poisson), trace or mixed load at any KServe-v2
endpoint; one trial, judged VALID/INVALID, stored as a run. The flags; orchestrate.bench does the work."""

import json
from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.bench_output import bench_json, bench_table, server_table, verdict_lines
from perseus.cli.common import DbOption, console, open_store, split_models
from perseus.cli.knobs import with_knobs
from perseus.cli.progress import RichReporter
from perseus.config.knobs import Knobs
from perseus.orchestrate.bench import BenchSettings, plan_bench, run_bench


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
    concurrency: Annotated[int, typer.Option(min=1, help="closed loop: virtual users")] = 1,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="open loop: req/s offered to each --model")
    ] = None,
    arrival: Annotated[str, typer.Option(help="open-loop arrivals: poisson or constant")] = "poisson",
    trace: Annotated[
        Path | None, typer.Option(help="replay a CSV of t_offset_s,model[,batch]", dir_okay=False)
    ] = None,
    mix: Annotated[
        str | None, typer.Option(help="open loop per model, e.g. resnet50=40,mobilenet_v2=120")
    ] = None,
    protocol: Annotated[str, typer.Option(help="grpc or http")] = "grpc",
    workers: Annotated[int, typer.Option(min=1, help="sending processes (exact merge of results)")] = 1,
    duration: Annotated[
        float, typer.Option(min=0.1, help="measured seconds after warm-up (the maximum with --until-stable)")
    ] = 10.0,
    until_stable: Annotated[
        bool, typer.Option(help="stop early once the last 3 windows agree within ±10%")
    ] = False,
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
    seed: Annotated[int, typer.Option(help="seed of the arrival process and inputs")] = 0,
    metrics_url: Annotated[
        str | None,
        typer.Option(help="remote backend: Triton's /metrics URL, for the server-side breakdown"),
    ] = None,
    telemetry_interval: Annotated[
        float, typer.Option(min=0.05, help="seconds between telemetry samples (the paper scraped every 1 s)")
    ] = 1.0,
    knobs: Knobs = Knobs(),  # the knob flags, declared by @with_knobs
    json_out: Annotated[
        bool, typer.Option("--json", help="print one JSON object instead of a table")
    ] = False,
    db: DbOption = None,
) -> None:
    """Send load and measure it. Latency counts from each request's intended send time
    (coordinated-omission-correct; p50/p95/p99), and separately from its actual send (sent_*)."""
    plan = plan_bench(  # a flag mistake stops here, before the store is opened
        BenchSettings(
            models=tuple(split_models(model)) if model else (),
            backend=backend,
            url=url,
            protocol=protocol,
            metrics_url=metrics_url,
            concurrency=concurrency,
            rate=rate,
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
            telemetry_interval_s=telemetry_interval,
            knobs=knobs,
        )
    )
    with open_store(db) as store, RichReporter(console, quiet=json_out) as reporter:
        run_id, outcome = run_bench(plan, store, reporter)
    if json_out:
        print(json.dumps(bench_json(outcome, run_id)))
        return
    console.print(bench_table(outcome.summaries))
    if outcome.server or outcome.usage:
        console.print(server_table(outcome))
    for line in verdict_lines(outcome):
        console.print(line)
    console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
