"""`perseus serve`: run the embedded tritonserver until Ctrl-C / SIGTERM."""

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from perseus.cli.common import console, split_models
from perseus.cli.knobs import ConfigFile, server_from_file, with_knobs
from perseus.config import ServerConfig, TenantConfig
from perseus.config.knobs import Knobs
from perseus.config.loading import build
from perseus.config.serving import LOOPBACK, format_cpuset
from perseus.core.errors import ConfigError, ServerError
from perseus.core.paths import runs_dir
from perseus.serving import embedded_server
from perseus.serving.server import last_error

PortOption = Annotated[int | None, typer.Option(min=1, max=65535, show_default="a free port")]


def describe(tenant: TenantConfig) -> str:
    """The knobs of one tenant in a line, as the server applies them."""
    parts = [f"{tenant.instances} instance{'s' if tenant.instances > 1 else ''}"]
    if tenant.dynamic_batching:
        sizes = ",".join(map(str, tenant.preferred_batch_sizes)) or "any"
        delay = tenant.max_queue_delay_us
        parts.append(f"dynamic batching ≤{tenant.max_batch_size} (preferred {sizes}, delay {delay} µs)")
    threads = tenant.effective_intra_op_threads()
    parts.append(f"intra-op threads {threads or 'default'}")
    if tenant.cpus is not None:
        parts.append(f"pinned to cpus {format_cpuset(tenant.cpus)}")
    return ", ".join(parts)


@with_knobs()
def serve(
    models: Annotated[
        str | None,
        typer.Option(
            help="comma-separated models, e.g. resnet50,mobilenet_v2 or synthetic-sleep:service_ms=20"
        ),
    ] = None,
    knobs: Knobs = Knobs(),  # the knob flags, declared by @with_knobs
    config: ConfigFile = None,
    http_port: PortOption = None,
    grpc_port: PortOption = None,
    metrics_port: PortOption = None,
    host: Annotated[str, typer.Option(help="address to bind; loopback unless you mean it")] = LOOPBACK,
    ready_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds to wait for /v2/health/ready")
    ] = 180.0,
    run_dir: Annotated[Path | None, typer.Option(help="where the model repository and server log go")] = None,
) -> None:
    """Serve models on the embedded tritonserver 2.51 (python backend running onnxruntime) until Ctrl-C.

    Knob flags apply to every model; --pin gives each model its own cores; --config FILE.yaml sets
    every knob per model instead (then --models and the knob flags are not used)."""
    ports = dict(http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port)
    if config is not None:
        if models is not None:
            raise ConfigError("give either --models or --config, not both")
        server_config = server_from_file(
            config, host=None if host == LOOPBACK else host, ready_timeout_s=ready_timeout, **ports
        )
    elif models is None:
        raise ConfigError("--models (or --config FILE.yaml) is required, e.g. --models resnet50,mobilenet_v2")
    else:
        server_config = build(
            ServerConfig,
            "serve",
            tenants=knobs.tenants(split_models(models)),
            host=host,
            ready_timeout_s=ready_timeout,
            **ports,
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    directory = run_dir or runs_dir() / f"serve-{stamp}-{os.getpid()}"
    status = lambda text: console.print(f"[dim]· {text}[/dim]")  # noqa: E731
    try:
        with embedded_server(server_config, directory, status) as server:
            ep = server.endpoints
            console.print(
                f"serving {', '.join(t.name for t in server.tenants)} (tritonserver pid {server.pid})"
            )
            for tenant in server.tenants:
                console.print(f"  {tenant.name}: {describe(tenant.config)}")
            console.print(f"grpc    {ep.grpc_url}\nhttp    {ep.http_url}\nmetrics {ep.metrics_url}")
            console.print(f"log     {server.log_path}\nready — Ctrl-C to stop", soft_wrap=True)
            while (code := server.exit_code()) is None:
                time.sleep(0.2)
            raise ServerError(
                f"tritonserver exited unexpectedly (code {code}): {last_error(server.log_path)}"
            )
    except KeyboardInterrupt:
        console.print("stopped; server and its stubs are gone")
