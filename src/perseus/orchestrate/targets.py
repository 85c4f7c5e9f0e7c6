"""What a bench drives: a remote KServe-v2 endpoint, the embedded Triton, or the in-process reference —
each as a context manager yielding where to send, how, and what to watch."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perseus.config import ServerConfig
from perseus.config.inputs import NORMAL
from perseus.core.errors import ConfigError
from perseus.core.progress import Reporter
from perseus.loadgen.client_base import Protocol_
from perseus.orchestrate.session import ServerSession, processes_of
from perseus.orchestrate.trial import Observation
from perseus.serving.inprocess import inprocess_server

Backend = Literal["remote", "embedded", "inprocess"]
BACKENDS: tuple[Backend, ...] = ("remote", "embedded", "inprocess")


@dataclass(frozen=True)
class Target:
    url: str
    protocol: Protocol_
    tenants: tuple[str, ...]  # the served model names, in the order of the server config
    observe: Observation | None
    description: str


@contextmanager
def remote_target(url: str, protocol: Protocol_, metrics_url: str | None) -> Iterator[Target]:
    """A server perseus did not start: its /metrics (when given) is watched, its processes are not ours."""
    observe = Observation(lambda: {}, metrics_url) if metrics_url else None
    yield Target(url, protocol, (), observe, f"KServe-v2 endpoint {url}")


@contextmanager
def started_target(
    backend: Backend,
    config: ServerConfig,
    run_dir: Path,
    protocol: Protocol_,
    reporter: Reporter,
    inputs: str = NORMAL,
) -> Iterator[Target]:
    """Start the embedded Triton or the in-process reference for the config; stop it on exit. `inputs` is
    for the in-process reference, whose workers hold their own inputs (Triton gets the client's)."""
    if backend == "embedded":
        with ServerSession(config, run_dir, reporter) as session:
            server = session.server()
            url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
            observe = Observation(processes_of(server), server.endpoints.metrics_url, session.fault)
            names = tuple(t.name for t in server.tenants)
            yield Target(url, protocol, names, observe, f"embedded tritonserver {server.version}")
    elif backend == "inprocess":
        with inprocess_server(config, run_dir, reporter.status, inputs) as reference:
            observe = Observation(reference.tenant_pids)
            names = tuple(t.name for t in reference.tenants)
            yield Target(
                reference.url, "inprocess", names, observe, f"in-process onnxruntime {reference.version}"
            )
    else:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
