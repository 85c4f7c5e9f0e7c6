"""`perseus demo`: the headline experiment, printed as a table and stored as a run."""

import json
from typing import Annotated

import typer

from perseus.cli.common import DbOption, console, open_store, split_models
from perseus.cli.progress import RichReporter
from perseus.config import DemoConfig
from perseus.config.demo import DEFAULT_MACHINE, DEFAULT_PRICE_USD_PER_H
from perseus.core.errors import ConfigError
from perseus.cost import summarize_demo
from perseus.orchestrate import run_demo
from perseus.report import demo_json, render_demo


def demo(
    models: Annotated[str, typer.Option(help="the two models, comma-separated")] = "resnet50,mobilenet_v2",
    sla_p95_ms: Annotated[
        float, typer.Option(min=0.001, help="SLA: 95th-percentile latency bound (paper: 750)")
    ] = 750.0,
    price_usd_per_h: Annotated[
        float, typer.Option(min=0.0001, help=f"machine price; default {DEFAULT_MACHINE}")
    ] = DEFAULT_PRICE_USD_PER_H,
    machine: Annotated[str, typer.Option(help="label of the priced machine")] = DEFAULT_MACHINE,
    concurrency: Annotated[
        str, typer.Option(help="closed-loop concurrency levels tried, in order")
    ] = "1,2,4,8",
    trial_s: Annotated[float, typer.Option(min=0.5, help="measured seconds per trial")] = 8.0,
    warmup_s: Annotated[float, typer.Option(min=0.0, help="discarded seconds before each trial")] = 2.0,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    db: DbOption = None,
) -> None:
    """ResNet-50 and MobileNetV2: peak req/s within the SLA dedicated, then both sharing one server;
    $ per 1M inferences and the saving 1 − 1/(r_A/λ_A + r_B/λ_B)."""
    pair = split_models(models)
    if len(pair) != 2:
        raise ConfigError(f"--models needs exactly two models, got {len(pair)}")
    try:
        levels = tuple(int(c) for c in concurrency.split(","))
        if any(c < 1 for c in levels):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"--concurrency must be positive integers separated by commas, got {concurrency!r}"
        ) from None
    config = DemoConfig(
        models=(pair[0], pair[1]),
        sla_p95_ms=sla_p95_ms,
        price_usd_per_h=price_usd_per_h,
        machine=machine,
        concurrencies=levels,
        trial_s=trial_s,
        warmup_s=warmup_s,
    )
    with open_store(db) as store:
        with RichReporter(console) as reporter:
            run_id = run_demo(config, store, reporter)
        summary = summarize_demo(store, run_id)
    if json_out:
        print(json.dumps(demo_json(summary)))
    else:
        render_demo(summary, console)
        console.print(f"[dim]stored as run {run_id} in {store.path}[/dim]")
