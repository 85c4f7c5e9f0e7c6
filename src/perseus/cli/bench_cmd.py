"""`perseus bench`: closed-loop, open-loop (constant/Poisson), trace or mixed load at any KServe-v2
endpoint; one trial, judged VALID/INVALID, stored as a run."""

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer

from perseus.cli.bench_output import bench_table, server_table, verdict_lines
from perseus.cli.common import DbOption, console, open_store, split_models
from perseus.cli.knobs import with_knobs
from perseus.cli.progress import RichReporter
from perseus.config import ServerConfig
from perseus.config.knobs import Knobs
from perseus.config.loading import build
from perseus.config.serving import tenant_names
from perseus.core.errors import ConfigError
from perseus.core.paths import runs_dir
from perseus.core.units import parse_model_rates
from perseus.loadgen import ALL, LoadSpec, TenantRate, TrialRules, parse_sla, read_trace
from perseus.orchestrate import run_trial
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.targets import BACKENDS, remote_target, started_target
from perseus.orchestrate.trial import TrialOutcome, spec_record


def parse_mix(text: str, arrival: Literal["constant", "poisson"], batch: int) -> tuple[TenantRate, ...]:
    """`resnet50=40,mobilenet_v2=120` → one arrival process per model at that many req/s."""
    rates = parse_model_rates((p.strip() for p in text.split(",") if p.strip()), "--mix")
    if not rates:
        raise ConfigError("--mix needs at least one MODEL=REQ_PER_S")
    return tuple(TenantRate(name, rate, arrival, batch) for name, rate in rates.items())


def _named_models(mix: str | None, trace: Path | None) -> list[str]:
    """The models to serve when only --mix or --trace names them."""
    if mix is not None:
        return [rate.tenant for rate in parse_mix(mix, "poisson", 1)]
    if trace is not None:
        return sorted({arrival.tenant for arrival in read_trace(trace)})
    raise ConfigError("--model is required unless --mix or --trace names the models")


def _spec(
    url: str,
    models: tuple[str, ...],
    concurrency: int,
    rate: float | None,
    arrival: Literal["constant", "poisson"],
    trace: Path | None,
    mix: str | None,
    **common: Any,
) -> LoadSpec:
    chosen = [
        flag for flag, value in (("--rate", rate), ("--trace", trace), ("--mix", mix)) if value is not None
    ]
    if len(chosen) > 1:
        raise ConfigError(f"choose one of --rate, --trace and --mix (got {' and '.join(chosen)})")
    if trace is not None:
        arrivals = tuple(read_trace(trace))
        return LoadSpec(
            url=url,
            tenants=tuple(sorted({a.tenant for a in arrivals})),
            mode="trace",
            trace=arrivals,
            **common,
        )
    if mix is not None:
        rates = parse_mix(mix, arrival, common["batch"])
        return LoadSpec(url=url, tenants=tuple(r.tenant for r in rates), mode="open", rates=rates, **common)
    if not models:
        raise ConfigError("--model is required unless --mix or --trace names the models")
    if rate is not None:
        rates = tuple(TenantRate(m, rate, arrival, common["batch"]) for m in models)
        return LoadSpec(url=url, tenants=models, mode="open", rates=rates, **common)
    return LoadSpec(url=url, tenants=models, mode="closed", concurrency=concurrency, **common)


def _json(outcome: TrialOutcome, run_id: int) -> dict[str, Any]:
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
    if arrival not in ("poisson", "constant"):
        raise ConfigError(f"--arrival must be poisson or constant, got {arrival!r}")
    if protocol not in ("grpc", "http"):
        raise ConfigError(f"--protocol must be grpc or http, got {protocol!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    listed = tuple(split_models(model)) if model else ()
    server_config = None
    if backend == "remote":
        if url is None:
            raise ConfigError("--url is required (or start a server with --backend embedded|inprocess)")
        names = listed
    else:
        if url is not None or metrics_url is not None:
            raise ConfigError(f"--url and --metrics-url are for --backend remote; {backend} starts its own")
        served = list(listed) or _named_models(mix, trace)
        names = tuple(tenant_names(served))
        server_config = build(ServerConfig, "bench", tenants=knobs.tenants(served))
    spec = _spec(
        url or "(started by perseus)",
        names,
        concurrency,
        rate,
        cast(Literal["constant", "poisson"], arrival),
        trace,
        mix,
        protocol=protocol,
        workers=workers,
        max_in_flight=max_in_flight,
        batch=batch,
        request_timeout_s=timeout,
        seed=seed,
    )
    rules = (
        TrialRules(warmup_s=warmup, min_duration_s=min(5.0, duration), max_duration_s=duration)
        if until_stable
        else TrialRules.fixed(duration, warmup)
    )
    target = parse_sla(sla) if sla else None
    run_spec = {
        **spec_record(spec, rules, target),
        "backend": backend,
        "server": server_config.model_dump(mode="json") if server_config else None,
    }
    with (
        open_store(db) as store,
        store.recording("bench", run_spec, provenance()) as run_id,
        RichReporter(console, quiet=json_out) as reporter,
    ):
        if server_config is None:
            endpoint = remote_target(spec.url, spec.protocol, metrics_url)
        else:
            folder = runs_dir() / f"run-{run_id}"
            endpoint = started_target(backend, server_config, folder, spec.protocol, reporter)
        with endpoint as where:
            spec = replace(spec, url=where.url, protocol=where.protocol)
            reporter.trial(f"{spec.mode} loop → {', '.join(spec.tenants)} ({where.description})", 0, 1)
            observe = (
                replace(where.observe, interval_s=telemetry_interval) if where.observe is not None else None
            )
            outcome = run_trial(store, run_id, "bench", spec, rules, reporter, target, observe=observe)
    if json_out:
        print(json.dumps(_json(outcome, run_id)))
        return
    console.print(bench_table(outcome.summaries))
    if outcome.server or outcome.usage:
        console.print(server_table(outcome))
    for line in verdict_lines(outcome):
        console.print(line)
    console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
