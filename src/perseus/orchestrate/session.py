"""One server for a series of trials: started on first use, checked after each trial, and replaced by a
fresh one after a fault (a dead stub or server), so one failure does not poison the trials after it."""

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from perseus.config import ServerConfig
from perseus.core.progress import Reporter
from perseus.loadgen import LoadSpec, TrialRules
from perseus.orchestrate.trial import FAILED, Observation, Sla, TrialOutcome, run_trial
from perseus.serving import RunningServer, embedded_server
from perseus.serving.repository import Tenant
from perseus.serving.server import last_error
from perseus.store import TrialSink

SERVER_PROCESS = "(tritonserver)"


def processes_of(server: RunningServer) -> Callable[[], dict[str, list[int]]]:
    """Each tenant's stubs, plus the server process itself under its own name: its gRPC/HTTP front end
    and scheduler use CPU for every tenant (as much as the stubs for small models), not for one."""
    return lambda: {**server.tenant_pids(), SERVER_PROCESS: [server.pid]}


class Session(Protocol):
    """What a prober needs of a server session (ServerSession here; a model of one in unit tests)."""

    def tenants(self) -> list[Tenant]:
        """The placement's tenants as served (starting the server if need be)."""
        ...

    @property
    def trial(self) -> Callable[..., TrialOutcome]:  # as ServerSession.trial
        ...


class ServerSession:
    def __init__(self, config: ServerConfig, run_dir: Path, reporter: Reporter) -> None:
        self.config, self.run_dir, self.reporter = config, run_dir, reporter
        self.started = 0  # servers started so far; each gets its own folder (log, repository)
        self._stack: ExitStack | None = None
        self._server: RunningServer | None = None
        self._initial: dict[str, set[int]] = {}

    def server(self) -> RunningServer:
        """The running server, starting one if there is none."""
        if self._server is None:
            stack = ExitStack()
            folder = self.run_dir if self.started == 0 else self.run_dir / f"restart-{self.started}"
            self._server = stack.enter_context(embedded_server(self.config, folder, self.reporter.status))
            self._stack, self.started = stack, self.started + 1
            self._initial = {t: set(pids) for t, pids in self._server.tenant_pids().items()}
        return self._server

    def tenants(self) -> list[Tenant]:
        return self.server().tenants

    def fault(self) -> str | None:
        """Why the current server can no longer be trusted, or None.

        Triton 2.51 does not restart a stub that died: its requests fail ("Stub process … is not
        healthy") while /v2/health/ready still answers 200, so readiness alone would miss it.
        """
        server = self._server
        if server is None:
            return None
        code = server.exit_code()
        if code is not None:
            return f"tritonserver exited (code {code}): {last_error(server.log_path)}"
        now = server.tenant_pids()
        for tenant, pids in sorted(self._initial.items()):
            gone = sorted(pids - set(now.get(tenant, [])))
            if gone:
                left = len(pids) - len(gone)
                return (
                    f"stub process {', '.join(map(str, gone))} of {tenant} died "
                    f"({left} of {len(pids)} instances left)"
                )
        return None

    def trial(
        self,
        store: TrialSink,
        run_id: int,
        name: str,
        make_spec: Callable[[RunningServer], LoadSpec],
        rules: TrialRules,
        sla: Sla = None,
        extra: dict[str, Any] | None = None,
        interval_s: float = 1.0,
    ) -> TrialOutcome:
        """One trial on the (possibly fresh) server, with telemetry; a FAILED trial retires the server."""
        server = self.server()
        observe = Observation(processes_of(server), server.endpoints.metrics_url, self.fault, interval_s)
        outcome = run_trial(store, run_id, name, make_spec(server), rules, self.reporter, sla, extra, observe)
        if outcome.status == FAILED:
            self.discard(outcome.reason or "the trial failed")
        return outcome

    def discard(self, reason: str) -> None:
        """Tear the current server down; the next server() call starts a fresh one."""
        if self._stack is not None:
            self.reporter.status(f"stopping the server: {reason}")
            stack, self._stack, self._server = self._stack, None, None
            stack.close()

    def __enter__(self) -> "ServerSession":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._stack is not None:
            stack, self._stack, self._server = self._stack, None, None
            stack.__exit__(kind, exc, tb)
