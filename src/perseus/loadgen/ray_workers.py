"""Load from N Ray actors spread over a cluster's nodes (the driver is connected already): each runs the
worker loop of workers.py against one endpoint (its share of the schedule, its own seed) and streams its
records back. Nodes do not share a monotonic clock, so each actor's times are moved onto the driver's at
the shared start; the controller, the summaries and the store then work as with local workers. Each
actor is also judged on its own: the trial is VALID only if every actor kept up."""

import contextlib
import importlib
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from perseus.core.errors import EndpointError, one_line
from perseus.core.records import Sender
from perseus.loadgen.control import CONTROL_PERIOD_S, Tick
from perseus.loadgen.early_stop import SlaWatch
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules
from perseus.loadgen.spec import LoadSpec
from perseus.loadgen.workers import collect, worker_loop

READY_TIMEOUT_S = 120.0  # an actor's first start on a node imports perseus and connects
START_MARGIN_NS = 300_000_000  # between "go" and the first send: a round trip to every actor and back


@dataclass
class _Start:
    value: int = 0


class LoadActor:
    """Lives on a node (as a Ray actor): one sending worker in a thread, its messages kept until taken."""

    def __init__(self) -> None:
        self.out: queue.Queue[Any] = queue.Queue()
        self.go, self.stop, self.start = threading.Event(), threading.Event(), _Start()
        self.thread: threading.Thread | None = None

    def node(self) -> tuple[str, str]:
        """Where this actor runs: a label (node address and id) and the host's name."""
        ray: Any = importlib.import_module("ray")
        node = f"{ray.util.get_node_ip_address()} ({ray.get_runtime_context().get_node_id()[:8]})"
        return node, socket.gethostname()

    def prepare(self, spec: LoadSpec, rules: TrialRules, index: int) -> None:
        """Connect to the endpoint; returns once ready (or raises why not)."""
        self.thread = threading.Thread(target=self._run, args=(spec, rules, index), daemon=True)
        self.thread.start()
        message = self.out.get(timeout=READY_TIMEOUT_S)
        if message[0] == "error":
            raise EndpointError(message[2])

    def _run(self, spec: LoadSpec, rules: TrialRules, index: int) -> None:
        try:
            import uvloop

            uvloop.run(worker_loop(spec, rules, index, self.out, self.go, self.start, self.stop))
        except Exception as exc:  # sent back as a message: the driver raises it
            self.out.put(("error", index, f"load actor {index} failed: {one_line(exc, with_type=True)}"))

    def begin(self, margin_ns: int) -> int:
        """Start sending `margin_ns` from now; returns that instant on this node's clock."""
        self.start.value = time.monotonic_ns() + margin_ns
        self.go.set()
        return self.start.value

    def take(self) -> list[Any]:
        messages = []
        with contextlib.suppress(queue.Empty):
            while True:
                messages.append(self.out.get_nowait())
        return messages

    def halt(self) -> None:
        self.stop.set()


@dataclass
class _Pump:
    """The driver's side: polls every actor, moves its records onto the driver's clock, and feeds them to
    the controller's queue as local workers would."""

    actors: list[Any]
    offsets: list[int]
    nodes: list[tuple[str, str]]
    out: "queue.Queue[Any]" = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    per_actor: list[list[RequestRecord]] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        ray: Any = importlib.import_module("ray")

        self.per_actor = [[] for _ in self.actors]
        self.cpu_ns = [0 for _ in self.actors]
        halted, done = False, 0
        try:
            while done < len(self.actors):
                if self.stop.is_set() and not halted:
                    ray.get([a.halt.remote() for a in self.actors])
                    halted = True
                for index, messages in enumerate(ray.get([a.take.remote() for a in self.actors])):
                    done += self._forward(index, messages)
                time.sleep(CONTROL_PERIOD_S / 4)
        except Exception as exc:  # a lost actor or node: the controller raises it
            self.out.put(("error", -1, f"a load actor was lost: {one_line(exc, 200)}"))
        finally:
            self.finished.set()

    def _forward(self, index: int, messages: list[Any]) -> int:
        shift, done = self.offsets[index], 0
        for message in messages:
            if message[0] == "records":
                moved = [
                    RequestRecord(t, i + shift, s + shift, d + shift, ok, e)
                    for t, i, s, d, ok, e in message[1]
                ]
                self.per_actor[index].extend(moved)
                message = (
                    "records",
                    [(r.tenant, r.intended_ns, r.send_ns, r.done_ns, r.ok, r.error) for r in moved],
                )
            elif message[0] == "done":
                self.cpu_ns[index] = message[2]
                done += 1
            self.out.put(message)
        return done


def run_ray_workers(
    spec: LoadSpec, rules: TrialRules, on_tick: Tick | None, watch: SlaWatch | None = None
) -> TrialRecords:
    """One trial from spec.workers actors, spread over the cluster's nodes."""
    ray: Any = importlib.import_module("ray")

    remote = ray.remote(LoadActor).options(num_cpus=0, scheduling_strategy="SPREAD", max_restarts=0)
    actors = [remote.remote() for _ in range(spec.workers)]
    pump: _Pump | None = None
    try:
        nodes = ray.get([a.node.remote() for a in actors], timeout=READY_TIMEOUT_S)
        ray.get([a.prepare.remote(spec, rules, i) for i, a in enumerate(actors)], timeout=READY_TIMEOUT_S)
        start_ns = time.monotonic_ns() + START_MARGIN_NS
        starts = ray.get([a.begin.remote(START_MARGIN_NS) for a in actors])
        pump = _Pump(actors, [start_ns - s for s in starts], nodes)
        threading.Thread(target=pump.run, daemon=True, name="perseus-ray-pump").start()
        trial = collect(spec, rules, pump.out, start_ns, on_tick, pump.stop, watch)
        pump.stop.set()
        pump.finished.wait(timeout=30)
    except ray.exceptions.GetTimeoutError:
        raise EndpointError(f"Ray load actors did not get ready within {READY_TIMEOUT_S:g} s") from None
    except ray.exceptions.RayError as exc:
        raise EndpointError(f"a Ray load actor failed: {one_line(exc, 200)}") from None
    finally:
        if pump is not None:
            pump.stop.set()
        for actor in actors:
            ray.kill(actor)
    trial.senders = [
        Sender(i, node, hostname, pump.per_actor[i], pump.cpu_ns[i])
        for i, (node, hostname) in enumerate(pump.nodes)
    ]
    return trial
