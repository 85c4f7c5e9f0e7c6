"""One tenant of the in-process reference backend: its onnxruntime sessions serving a Unix socket.

Run as `python -m perseus.serving.inprocess_worker SETTINGS_JSON`, one process per tenant (as Triton
runs a stub process per model instance). Requests carry only an id and a batch size: inputs are
pre-generated here, so what a client measures is the model plus this thin queue, nothing else.
"""

import contextlib
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perseus.config.inputs import NORMAL
from perseus.config.serving import TenantConfig
from perseus.core import wire
from perseus.core.errors import one_line
from perseus.models import ModelInfo, load_onnx_input
from perseus.serving import pinning

Runner = Callable[[int], None]  # runs the model once on a batch of the given total size
_RECV_BYTES = 1 << 16


class Connection:
    """One client connection; executors of any thread answer on it, so sends are serialized."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def send(self, data: bytes) -> None:
        # A client that went away just loses its answers; the worker keeps serving the others.
        with self._lock, contextlib.suppress(OSError):
            self.sock.sendall(data)


@dataclass(frozen=True)
class Job:
    conn: Connection
    request_id: int
    batch: int


@dataclass(frozen=True)
class BatchPolicy:
    """Triton's dynamic batcher, reduced to what matters for throughput: how big, how long to wait."""

    dynamic: bool
    max_batch: int
    delay_ns: int = 0
    preferred: tuple[int, ...] = ()

    @classmethod
    def of(cls, config: TenantConfig) -> "BatchPolicy":
        return cls(
            config.dynamic_batching,
            config.max_batch_size,
            config.max_queue_delay_us * 1000,
            config.preferred_batch_sizes,
        )


def fill(queued: deque[Job], size: int, max_batch: int) -> tuple[list[Job], int]:
    """Take queued jobs in order while the batch stays within max_batch; returns them and the new size."""
    taken: list[Job] = []
    while queued and size + queued[0].batch <= max_batch:
        job = queued.popleft()
        taken.append(job)
        size += job.batch
    return taken, size


class BatchQueue:
    """The queue a tenant's executors share. Without dynamic batching each job runs alone. With it, one
    executor at a time collects a batch: the first job, then whatever arrives within the queue delay, and
    runs early when the batch is full or has reached a preferred size with nothing more waiting."""

    def __init__(self, policy: BatchPolicy, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.policy, self._clock = policy, clock
        self._queued: deque[Job] = deque()
        self._changed = threading.Condition()
        # Only one batch forms at a time (as in Triton): a second idle executor would otherwise start its
        # own batch with the next job and both would run half-empty.
        self._collecting = threading.Lock()
        self._closed = False

    def put(self, job: Job) -> None:
        with self._changed:
            self._queued.append(job)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _first(self) -> Job | None:
        while not self._queued:
            if self._closed:
                return None
            self._changed.wait()
        return self._queued.popleft()

    def next_batch(self) -> list[Job]:
        """Block until a batch is ready; [] once the queue is closed and empty."""
        if not self.policy.dynamic:
            with self._changed:
                first = self._first()
                return [first] if first else []
        with self._collecting, self._changed:
            first = self._first()
            if first is None:
                return []
            deadline_ns = self._clock() + self.policy.delay_ns
            batch, size = [first], first.batch
            while True:
                more, size = fill(self._queued, size, self.policy.max_batch)
                batch += more
                full = size >= self.policy.max_batch or bool(self._queued)  # the next job does not fit
                preferred = size in self.policy.preferred
                remaining_ns = deadline_ns - self._clock()
                if full or preferred or remaining_ns <= 0 or self._closed:
                    return batch
                self._changed.wait(remaining_ns / 1e9)


def batch_problem(model: ModelInfo, config: TenantConfig, batch: int) -> str | None:
    """Why a request of this batch size cannot be served, in Triton's terms; None if it can."""
    if not model.batch_dynamic:
        return None if batch == 1 else f"{model.name} has a fixed input shape; batch must be 1, got {batch}"
    if batch > config.max_batch_size:
        return f"batch {batch} exceeds max_batch_size {config.max_batch_size}"
    return None


class Inputs:
    """One input per total batch size, with the values `data` names (config.inputs), made the first time
    that size is run, then reused."""

    def __init__(self, model: ModelInfo, data: str = NORMAL) -> None:
        self.model, self.data = model, data
        self._by_batch: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, batch: int) -> dict[str, Any]:
        feeds = self._by_batch.get(batch)
        if feeds is None:
            with self._lock:
                feeds = self._by_batch.get(batch)
                if feeds is None:
                    feeds = self._by_batch[batch] = load_onnx_input(
                        self.model, batch, seed=batch, data=self.data
                    )
        return feeds


def session_runner(model: ModelInfo, config: TenantConfig, inputs: Inputs) -> Runner:
    """A runner owning one onnxruntime session, configured as serving/backend/model.py configures it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Unset (0), onnxruntime would start a thread per physical core and pin each one outside this
    # process's CPUs (a taskset or a cpuset): one per allowed CPU instead, none pinned.
    options.intra_op_num_threads = config.effective_intra_op_threads() or len(os.sched_getaffinity(0))
    options.inter_op_num_threads = config.inter_op_threads
    spinning = "1" if config.allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
    assert model.path is not None
    session = ort.InferenceSession(model.path, options, providers=["CPUExecutionProvider"])
    outputs = [tensor.name for tensor in model.outputs]

    def run(batch: int) -> None:
        session.run(outputs, inputs.get(batch))  # releases the GIL while it computes

    run(1)  # a model that loads but cannot run fails now, with its reason, rather than on every request
    return run


def sleep_runner(model: ModelInfo) -> Runner:
    service_s = float(model.options.get("service_ms", "10")) / 1000.0

    def run(batch: int) -> None:
        time.sleep(service_s)  # per executed batch, like the python-backend model

    return run


def _reply(batch: list[Job], status: int, error: str = "") -> None:
    by_conn: dict[Connection, list[bytes]] = {}
    for job in batch:
        by_conn.setdefault(job.conn, []).append(wire.pack_response(job.request_id, status, error))
    for conn, frames in by_conn.items():
        conn.send(b"".join(frames))


def execute(queue: BatchQueue, run: Runner) -> None:
    """One executor (one model instance): run batches from the shared queue and answer each job."""
    while batch := queue.next_batch():
        try:
            run(sum(job.batch for job in batch))
        except Exception as exc:  # a failed run answers its requests with the reason and serves on
            _reply(batch, wire.INTERNAL, one_line(exc, 500, with_type=True))
        else:
            _reply(batch, wire.OK)


def serve_connection(conn: Connection, queue: BatchQueue, problem: Callable[[int], str | None]) -> None:
    """Read request frames until the client hangs up: answer pings, refuse bad batches, queue the rest."""
    buffer = bytearray()
    with conn.sock:
        while True:
            try:
                chunk = conn.sock.recv(_RECV_BYTES)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            for request in wire.take_requests(buffer):
                if request.batch == wire.PING:
                    conn.send(wire.pack_response(request.request_id, wire.OK))
                elif (reason := problem(request.batch)) is not None:
                    conn.send(wire.pack_response(request.request_id, wire.INVALID_ARGUMENT, reason))
                else:
                    queue.put(Job(conn, request.request_id, request.batch))


def _start(target: Callable[..., None], args: Iterable[object], name: str) -> None:
    # Daemon threads: the process ends by SIGTERM or its parent's death, never by joining them.
    threading.Thread(target=target, args=tuple(args), name=name, daemon=True).start()


def serve(tenant: str, model: ModelInfo, config: TenantConfig, socket_path: Path, data: str = NORMAL) -> None:
    """Load the tenant's instances, then accept connections forever; requests run on inputs of `data`."""
    if config.cpus is not None:
        # Before any session exists, so the threads onnxruntime starts inherit the cpuset.
        pinning.pin(os.getpid(), config.cpus)
    inputs = Inputs(model, data)
    if model.kind == "sleep":
        runners = [sleep_runner(model) for _ in range(config.instances)]
    else:
        runners = [session_runner(model, config, inputs) for _ in range(config.instances)]
    queue = BatchQueue(BatchPolicy.of(config))
    for index, run in enumerate(runners):
        _start(execute, (queue, run), f"{tenant}-{index}")
    if config.cpus is not None:
        pinning.pin(os.getpid(), config.cpus)  # in case onnxruntime set its own threads' affinity
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with wire.unix_path(socket_path) as path:
        listener.bind(path)
    # Listening means ready: the parent's health ping gets through only now.
    listener.listen(128)
    print(f"{tenant}: {config.instances} instance(s) ready on {socket_path}", flush=True)

    def problem(batch: int) -> str | None:
        return batch_problem(model, config, batch)

    while True:
        sock, _ = listener.accept()
        _start(serve_connection, (Connection(sock), queue, problem), f"{tenant}-conn")


def main(argv: list[str]) -> int:
    # SIGTERM keeps its default action (immediate exit): there is nothing to flush. The parent set
    # PDEATHSIG, so the kernel kills this process if the parent dies without stopping it.
    try:
        settings = json.loads(argv[1])
        tenant = str(settings["tenant"])
        model = ModelInfo.model_validate(settings["model"])
        config = TenantConfig.model_validate(settings["config"])
        serve(tenant, model, config, Path(settings["socket"]), str(settings.get("inputs", NORMAL)))
    except Exception as exc:
        traceback.print_exc()
        # The parent quotes the log's last line: make it the one-line reason.
        print(one_line(exc, 400, with_type=True), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
