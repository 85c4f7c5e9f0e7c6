"""The embedded tritonserver as a context manager: start, wait until ready, yield endpoints, reap all."""

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from perseus.config.serving import ServerConfig, served_names
from perseus.core.errors import ServerError, one_line
from perseus.models import resolve_model
from perseus.serving import orphans, pinning, procs
from perseus.serving.install import TRITON_VERSION, locate_triton
from perseus.serving.ports import pick_ports
from perseus.serving.repository import Tenant, write_repository

_STOP_GRACE_S = 15.0
_GLOG_ERROR = re.compile(r"^E\d{4} ")


@dataclass(frozen=True)
class Endpoints:
    host: str
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"


@dataclass
class RunningServer:
    endpoints: Endpoints
    pid: int
    tenants: list[Tenant]
    log_path: Path
    version: str = TRITON_VERSION
    stubs: list[psutil.Process] = field(default_factory=list)
    shm: list[str] = field(default_factory=list)

    exit_code: Callable[[], int | None] = lambda: None

    def stub_pids(self) -> list[int]:
        return [p.pid for p in procs.descendants(self.pid)]

    def tenant_pids(self) -> dict[str, list[int]]:
        """Live stub pids per tenant (Triton model name); a restarted stub shows with its new pid."""
        return pinning.stubs_by_tenant(self.pid)


def resolve_tenants(config: ServerConfig, on_status: Callable[[str], None] | None = None) -> list[Tenant]:
    names = served_names(config.tenants)
    return [
        Tenant(name=name, config=tenant, model=resolve_model(tenant.model, on_status=on_status))
        for name, tenant in zip(names, config.tenants, strict=True)
    ]


def last_error(log_path: Path) -> str:
    """The most telling line of a failed server's log, for a one-line message."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "no log"
    errors = [line for line in lines if _GLOG_ERROR.match(line)]
    line = (errors or [ln for ln in lines if ln.strip()] or ["empty log"])[-1]
    return one_line(re.sub(r"^E\d{4} [\d:.]+ \d+ \S+\] ", "", line), 400)


def _ready(endpoints: Endpoints) -> bool:
    try:
        with urllib.request.urlopen(f"http://{endpoints.http_url}/v2/health/ready", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(
    proc_poll: Callable[[], int | None], endpoints: Endpoints, log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc_poll()
        if code is not None:
            raise ServerError(
                f"tritonserver exited (code {code}) while starting: {last_error(log)} (log: {log})"
            )
        if _ready(endpoints):
            return
        time.sleep(0.1)
    raise ServerError(f"tritonserver did not become ready within {timeout_s:g} s (log: {log})")


# Logged by tritonserver 2.51 on SIGTERM once no inference is in flight and none will be accepted.
# What follows is the python backend finalizing each stub (~1.2 s an instance, one after another),
# which answers nothing: from here the process group is killed rather than waited for.
_DRAINED = b"All models are stopped, unloading models"


def _drained(log_path: Path) -> Callable[[], bool]:
    start = log_path.stat().st_size if log_path.exists() else 0

    def drained() -> bool:
        with log_path.open("rb") as log:
            log.seek(start)
            return _DRAINED in log.read()

    return drained


@contextmanager
def embedded_server(
    config: ServerConfig, run_dir: Path, on_status: Callable[[str], None] | None = None
) -> Iterator[RunningServer]:
    """Start tritonserver for the tenants, yield once /v2/health/ready answers, then stop and reap it.

    Whatever happens inside the block (exception, Ctrl-C), the server, its python-backend stubs and
    their /dev/shm regions are gone when this returns; if perseus itself dies (SIGKILL, the OOM
    killer), its watchdog removes them (serving/orphans.py).
    """
    install = locate_triton()
    tenants = resolve_tenants(config, on_status)
    pinned = {t.name: t.config.cpus for t in tenants if t.config.cpus is not None}
    pinning.check_cpus(pinned)
    run_dir.mkdir(parents=True, exist_ok=True)
    repo = write_repository(run_dir / "model_repository", tenants)
    ports = pick_ports(
        config.host, {"http": config.http_port, "grpc": config.grpc_port, "metrics": config.metrics_port}
    )
    endpoints = Endpoints(config.host, ports["http"], ports["grpc"], ports["metrics"])
    log_path = run_dir / "tritonserver.log"
    argv = [
        str(install.binary),
        f"--model-repository={repo}",
        f"--backend-directory={install.backend_dir}",
        f"--http-address={config.host}",
        f"--http-port={endpoints.http_port}",
        f"--grpc-address={config.host}",
        f"--grpc-port={endpoints.grpc_port}",
        f"--metrics-address={config.host}",
        f"--metrics-port={endpoints.metrics_port}",
        "--allow-gpu-metrics=false",
        "--exit-on-error=true",
        "--strict-readiness=true",
        f"--exit-timeout-secs={int(_STOP_GRACE_S) - 5}",
    ]
    if on_status:
        on_status(f"starting tritonserver {TRITON_VERSION} with {', '.join(t.name for t in tenants)}")
    with orphans.guarded([install.binary, install.stub], run_dir / "watchdog.log") as guard:
        proc = procs.spawn(argv, install.env, log_path)
        server = RunningServer(
            endpoints=endpoints, pid=proc.pid, tenants=tenants, log_path=log_path, exit_code=proc.poll
        )
        try:
            guard.watch(proc.pid)
            _wait_ready(proc.poll, endpoints, log_path, config.ready_timeout_s)
            server.stubs = procs.descendants(proc.pid)
            server.shm = procs.shm_regions(server.stubs)
            guard.update([p.pid for p in server.stubs], server.shm)
            if pinned:
                with pinning.Pinner(server.tenant_pids, pinned):
                    yield server
            else:
                yield server
        finally:
            children = [*server.stubs, *procs.descendants(proc.pid)]
            regions = sorted({*server.shm, *procs.shm_regions(children)})
            procs.stop(proc, children, _STOP_GRACE_S, _drained(log_path))
            procs.remove_shm(regions)
