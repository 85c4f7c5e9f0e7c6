"""A placement measured on a Ray node: an actor there holds the embedded server (the node's one measuring
slot) and runs each trial; the trial comes back whole to the driver, which alone writes the store. A node
lost mid-trial leaves a FAILED row that says so, and NodeLostError, on which the lab runs the placement
again on a node that is still there (finished trials are stored, so only the lost one is measured again)."""

import contextlib
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from perseus.config import ServerConfig
from perseus.core.errors import NodeLostError, PerseusError, one_line
from perseus.core.paths import runs_dir
from perseus.core.progress import NullReporter, Reporter
from perseus.core.reasons import Reason, Why
from perseus.core.records import TrialRecords
from perseus.loadgen import LoadSpec, TrialRules
from perseus.orchestrate.cluster import NODE_RESOURCE, ray_module
from perseus.orchestrate.session import ServerSession
from perseus.orchestrate.trial import FAILED, Sla, TrialOutcome
from perseus.serving import RunningServer
from perseus.serving.orphans import sweep
from perseus.serving.repository import Tenant
from perseus.store import Store, TrialSummary
from perseus.store.db import TelemetryRow

STOP_TIMEOUT_S = 15.0  # a server stops in ~3 s
LOST = "lost"  # a lost trial's row is named `<trial> | lost N` and has no key: no analysis reads it


class _Said(NullReporter):
    """The node's status lines, sent back with each answer (the driver prints them)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def status(self, text: str) -> None:
        self.lines.append(text)

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


@dataclass
class _Captured:
    """A TrialSink on the node: keeps the one trial run_trial saves, to send it back."""

    saved: tuple[Any, ...] | None = None

    def save_trial(
        self,
        run_id: int,
        name: str,
        spec: dict[str, Any],
        trial: TrialRecords,
        summary: TrialSummary,
        status: str,
        reasons: Sequence[Reason] = (),
        telemetry: Iterable[TelemetryRow] = (),
    ) -> int:
        self.saved = (spec, trial, summary, status, tuple(reasons), list(telemetry))
        return 0


class PlacementActor:
    """Lives on a node (as a Ray actor): the placement's server session, started on first use."""

    def __init__(self, config: ServerConfig, folder: str) -> None:
        self.said = _Said()
        swept = sweep()  # what a placement killed on this node earlier left behind (its actor killed)
        if swept:
            self.said.status(swept)
        self.session = ServerSession(config, runs_dir() / folder, self.said)

    def node(self) -> dict[str, str]:
        ray = ray_module()
        return {
            "hostname": socket.gethostname(),
            "ip": ray.util.get_node_ip_address(),
            "ray_node_id": ray.get_runtime_context().get_node_id(),
        }

    def tenants(self) -> tuple[list[Tenant], list[str]]:
        return self.session.server().tenants, self.said.take()

    def trial(
        self,
        name: str,
        make_spec: Callable[[RunningServer], LoadSpec],
        rules: TrialRules,
        sla: Sla,
        extra: dict[str, Any] | None,
        interval_s: float,
    ) -> tuple[tuple[Any, ...] | None, TrialOutcome, list[str]]:
        sink = _Captured()
        outcome = self.session.trial(sink, 0, name, make_spec, rules, sla, extra, interval_s)
        return sink.saved, outcome, self.said.take()

    def close(self) -> list[str]:
        self.session.__exit__(None, None, None)
        return self.said.take()


class Interrupted(PerseusError):
    """The command is stopping (Ctrl-C): no placement starts or runs again."""


@dataclass
class LiveSessions:
    """A lab's placements under way on the cluster, so that Ctrl-C stops them all at once."""

    sessions: set["RaySession"] = field(default_factory=set)
    stopped: bool = False

    def stop_all(self) -> None:
        self.stopped = True
        for session in list(self.sessions):
            session.discard()


@dataclass
class RaySession:
    """The driver's side of a placement on a node (a Session, as ServerSession is one)."""

    config: ServerConfig
    folder: Path
    reporter: Reporter
    live: LiveSessions = field(default_factory=LiveSessions)
    resources: dict[str, float] = field(default_factory=dict)  # asked of the node besides its slot
    _actor: Any = None
    _node: dict[str, str] = field(default_factory=dict)
    _tenants: list[Tenant] | None = None

    def __hash__(self) -> int:
        return id(self)

    def _started(self) -> Any:
        """The actor, placed on a node with a free measuring slot (this waits for one)."""
        if self.live.stopped:
            raise Interrupted("interrupted")
        if self._actor is None:
            ray = ray_module()
            remote = ray.remote(PlacementActor).options(  # two threads: close() stops a trial under way
                resources={NODE_RESOURCE: 1, **self.resources},
                num_cpus=0,
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=2,
            )
            # The node keeps its server's files under its own runs folder, at the driver's relative path.
            here = runs_dir()
            folder = self.folder.relative_to(here) if self.folder.is_relative_to(here) else self.folder
            self._actor = remote.remote(self.config, str(folder))
            self.live.sessions.add(self)
            self._node = self._ask(self._actor.node, None)
        return self._actor

    def _ask(self, method: Any, trial: tuple[Store, int, str] | None, *args: Any) -> Any:
        """One call to the actor; a dead actor (its node lost) → a FAILED row for the trial, if one was
        under way, and NodeLostError."""
        ray = ray_module()
        try:
            return ray.get(method.remote(*args))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            if self.live.stopped:  # killed by us, on Ctrl-C
                raise Interrupted("interrupted") from None
            where = self._node.get("hostname") or "a node"
            why = f"node {where} ({self._node.get('ip', '?')}) was lost: {one_line(exc, 160)}"
            if trial is not None:
                _store_lost(*trial, self._node, why)
            self.discard()
            raise NodeLostError(why) from None

    def tenants(self) -> list[Tenant]:
        if self._tenants is None:
            actor = self._started()
            self._tenants, said = self._ask(actor.tenants, None)
            self._say(said)
        return self._tenants

    def trial(
        self,
        store: Store,
        run_id: int,
        name: str,
        make_spec: Callable[[RunningServer], LoadSpec],
        rules: TrialRules,
        sla: Sla = None,
        extra: dict[str, Any] | None = None,
        interval_s: float = 1.0,
    ) -> TrialOutcome:
        self.tenants()  # the server is up before the trial starts (a start is not a trial's to lose)
        node = {"node": self._node}
        args = (name, make_spec, rules, sla, {**(extra or {}), **node}, interval_s)
        outcome: TrialOutcome
        saved, outcome, said = self._ask(self._actor.trial, (store, run_id, name), *args)
        self._say(said)
        assert saved is not None
        spec, records, summary, status, reasons, telemetry = saved
        trial_id = store.save_trial(run_id, name, spec, records, summary, status, reasons, telemetry)
        return replace(outcome, trial_id=trial_id)

    def _say(self, lines: list[str]) -> None:
        for line in lines:
            self.reporter.status(f"[{self._node.get('hostname', '?')}] {line}")

    def discard(self) -> None:
        """Stop the node's server (its stubs and /dev/shm regions with it, even under a trial, on Ctrl-C),
        then the actor; the next call places a new one."""
        actor, self._actor, self._tenants = self._actor, None, None
        self.live.sessions.discard(self)
        if actor is not None:
            ray = ray_module()
            with contextlib.suppress(Exception):  # gone already, or stuck: killed below either way
                self._say(ray.get(actor.close.remote(), timeout=STOP_TIMEOUT_S))
            ray.kill(actor)

    def __enter__(self) -> "RaySession":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()


def _store_lost(store: Store, run_id: int, name: str, node: dict[str, str], why: str) -> None:
    lost = sum(1 for t in store.trials(run_id) if t.name.startswith(f"{name} | {LOST} "))
    spec = {LOST: {"trial": name, "node": node}}
    empty = TrialRecords(0, 0, 0)
    lost_node = Reason(Why.NODE_LOST, why, {"node": node.get("hostname", "")})
    lost_name = f"{name} | {LOST} {lost + 1}"
    store.save_trial(run_id, lost_name, spec, empty, TrialSummary({}), FAILED, [lost_node])


def ray_sessions(
    live: LiveSessions, resources: dict[str, float]
) -> Callable[[ServerConfig, Path, Reporter], RaySession]:
    """A ServerLab session factory whose placements run on Ray nodes that have `resources` besides a
    measuring slot, each registered in `live`."""
    return lambda config, folder, reporter: RaySession(config, folder, reporter, live, resources)
