"""The in-process reference backend as a context manager: one onnxruntime worker per tenant, no server.

The same ONNX, threads and cores as the embedded Triton, minus serving (no HTTP/gRPC, no tensor
serialization): the physical limit that Triton's overhead is measured against.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from perseus.config.inputs import NORMAL
from perseus.config.serving import ServerConfig
from perseus.core import wire
from perseus.core.errors import ModelError, ServerError
from perseus.serving import pinning, procs
from perseus.serving.repository import Tenant
from perseus.serving.server import last_error, resolve_tenants

WORKER_MODULE = "perseus.serving.inprocess_worker"
_STOP_GRACE_S = 5.0
_POLL_S = 0.02
_PING_TIMEOUT_S = 1.0


@dataclass
class InprocessServer:
    """Running workers, one per tenant; `url` is what the load generator's inprocess client connects to."""

    socket_dir: Path
    tenants: list[Tenant]
    log_paths: dict[str, Path]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    version: str = field(default_factory=lambda: metadata.version("onnxruntime"))

    @property
    def url(self) -> str:
        return wire.format_url(self.socket_dir)

    def socket_path(self, tenant: str) -> Path:
        return self.socket_dir / wire.socket_name(tenant)

    def pid_of(self, tenant: str) -> int:
        return self.workers[tenant].pid

    def tenant_pids(self) -> dict[str, list[int]]:
        """Live worker pids per tenant (one each: a tenant's instances are threads of its worker)."""
        return {name: [proc.pid] for name, proc in self.workers.items() if proc.poll() is None}

    def exit_code(self) -> int | None:
        """None while every worker runs; else the exit code of the first one found dead."""
        for proc in self.workers.values():
            code = proc.poll()
            if code is not None:
                return code
        return None


def ping(path: Path, timeout_s: float) -> bool:
    """Does a worker answer a health ping on this socket?"""
    try:
        with wire.unix_path(path) as address, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            sock.sendall(wire.pack_request(0, wire.PING))
            buffer = bytearray()
            while not (answers := wire.take_responses(buffer)):
                chunk = sock.recv(256)
                if not chunk:
                    return False
                buffer += chunk
            return answers[0].status == wire.OK
    except OSError:
        return False


def _wait_ready(server: InprocessServer, timeout_s: float) -> None:
    waiting = dict(server.workers)
    deadline = time.monotonic() + timeout_s
    while waiting:
        for tenant, proc in list(waiting.items()):
            code = proc.poll()
            if code is not None:
                log = server.log_paths[tenant]
                raise ServerError(
                    f"in-process worker for {tenant} exited (code {code}) while starting: "
                    f"{last_error(log)} (log: {log})"
                )
            path = server.socket_path(tenant)
            if path.exists() and ping(path, _PING_TIMEOUT_S):
                del waiting[tenant]
        if waiting and time.monotonic() > deadline:
            raise ServerError(
                f"in-process workers for {', '.join(waiting)} did not become ready within {timeout_s:g} s "
                f"(logs: {server.socket_dir})"
            )
        if waiting:
            time.sleep(_POLL_S)


def _check(tenants: list[Tenant]) -> None:
    for tenant in tenants:
        if tenant.config.dynamic_batching and not tenant.model.batch_dynamic:
            raise ModelError(
                f"{tenant.name}: dynamic batching needs a model with a dynamic batch dimension; "
                f"{tenant.model.name} has a fixed input shape {list(tenant.model.inputs[0].shape)}"
            )
    pinning.check_cpus({t.name: t.config.cpus for t in tenants if t.config.cpus is not None})


def _argv(tenant: Tenant, socket_path: Path, inputs: str) -> list[str]:
    settings = {
        "tenant": tenant.name,
        "model": tenant.model.model_dump(mode="json"),
        "config": tenant.config.model_dump(mode="json"),
        "socket": str(socket_path),
        "inputs": inputs,
    }
    return [sys.executable, "-m", WORKER_MODULE, json.dumps(settings)]


@contextmanager
def inprocess_server(
    config: ServerConfig,
    run_dir: Path,
    on_status: Callable[[str], None] | None = None,
    inputs: str = NORMAL,
) -> Iterator[InprocessServer]:
    """Start one worker per tenant, yield once every one answers a ping, then stop and reap them all.
    Each worker holds its inputs (no client sends any): their values are those `inputs` names.

    Whatever happens inside the block (exception, Ctrl-C), no worker is left when this returns.
    """
    tenants = resolve_tenants(config, on_status)
    _check(tenants)
    socket_dir = (run_dir / "inproc").resolve()
    socket_dir.mkdir(parents=True, exist_ok=True)
    server = InprocessServer(
        socket_dir=socket_dir,
        tenants=tenants,
        log_paths={t.name: socket_dir / f"{t.name}.log" for t in tenants},
    )
    if on_status:
        on_status(f"starting in-process onnxruntime {server.version} with {', '.join(server.log_paths)}")
    try:
        for tenant in tenants:
            path = server.socket_path(tenant.name)
            path.unlink(missing_ok=True)  # left by an earlier run in this folder: bind would fail
            server.workers[tenant.name] = procs.spawn(
                _argv(tenant, path, inputs), dict(os.environ), server.log_paths[tenant.name]
            )
        _wait_ready(server, config.ready_timeout_s)
        yield server
    finally:
        # Signal every worker before waiting on any: SIGTERM ends them at once, so even an interrupt
        # during the waits below leaves none running.
        for proc in server.workers.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in server.workers.values():
            procs.stop(proc, [], _STOP_GRACE_S)
        for tenant in tenants:
            server.socket_path(tenant.name).unlink(missing_ok=True)
