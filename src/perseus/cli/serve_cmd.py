"""`perseus serve`: run the embedded tritonserver until Ctrl-C / SIGTERM."""

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from perseus.cli.common import console, split_models
from perseus.config import ServerConfig, TenantConfig
from perseus.config.serving import LOOPBACK
from perseus.core.errors import ConfigError, ServerError
from perseus.core.paths import runs_dir
from perseus.serving import embedded_server
from perseus.serving.server import last_error

PortOption = Annotated[int | None, typer.Option(min=1, max=65535, show_default="a free port")]


def serve(
    models: Annotated[
        str,
        typer.Option(
            help="comma-separated models, e.g. resnet50,mobilenet_v2 or synthetic-sleep:service_ms=20"
        ),
    ],
    instances: Annotated[int, typer.Option(min=1, help="Triton instances (stub processes) per model")] = 1,
    http_port: PortOption = None,
    grpc_port: PortOption = None,
    metrics_port: PortOption = None,
    host: Annotated[str, typer.Option(help="address to bind; loopback unless you mean it")] = LOOPBACK,
    ready_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds to wait for /v2/health/ready")
    ] = 180.0,
    run_dir: Annotated[Path | None, typer.Option(help="where the model repository and server log go")] = None,
) -> None:
    """Serve models on the embedded tritonserver 2.51 (python backend running onnxruntime) until Ctrl-C."""
    try:
        config = ServerConfig(
            tenants=tuple(TenantConfig(model=m, instances=instances) for m in split_models(models)),
            host=host,
            http_port=http_port,
            grpc_port=grpc_port,
            metrics_port=metrics_port,
            ready_timeout_s=ready_timeout,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    directory = run_dir or runs_dir() / f"serve-{stamp}-{os.getpid()}"
    status = lambda text: console.print(f"[dim]· {text}[/dim]")  # noqa: E731
    try:
        with embedded_server(config, directory, status) as server:
            ep = server.endpoints
            console.print(
                f"serving {', '.join(t.name for t in server.tenants)} (tritonserver pid {server.pid})"
            )
            console.print(f"grpc    {ep.grpc_url}\nhttp    {ep.http_url}\nmetrics {ep.metrics_url}")
            console.print(f"log     {server.log_path}\nready — Ctrl-C to stop", soft_wrap=True)
            while (code := server.exit_code()) is None:
                time.sleep(0.2)
            raise ServerError(
                f"tritonserver exited unexpectedly (code {code}): {last_error(server.log_path)}"
            )
    except KeyboardInterrupt:
        console.print("stopped; server and its stubs are gone")
