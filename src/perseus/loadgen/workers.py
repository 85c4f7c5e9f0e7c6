"""Spread sending over N processes when one core cannot keep up; records merge exactly.

All processes share CLOCK_MONOTONIC, so their records merge by timestamp. Workers stream records
to the parent every control period, so the parent applies the same stopping rules as in-process.
"""

import asyncio
import contextlib
import ctypes
import multiprocessing as mp
import queue
import signal
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from perseus.core.errors import EndpointError, PerseusError
from perseus.loadgen.control import CONTROL_PERIOD_S, Controller, Tick, connect, deadline_ns, drive
from perseus.loadgen.early_stop import SlaWatch
from perseus.loadgen.records import RequestRecord, TrialRecords
from perseus.loadgen.rules import TrialRules
from perseus.loadgen.spec import LoadSpec

_READY_TIMEOUT_S = 60.0
START_MARGIN_NS = 50_000_000  # workers get this long between "go" and the first intended send


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us in order


class Outbox(Protocol):
    def put(self, item: Any) -> None: ...


class Flag(Protocol):
    def is_set(self) -> bool: ...


class Inbox(Protocol):
    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...


class Settable(Protocol):
    def set(self) -> None: ...


async def worker_loop(
    spec: LoadSpec, rules: TrialRules, index: int, out: Outbox, go: Flag, start: Any, stop: Flag
) -> None:
    """One sending worker (a process here, a Ray actor's thread in ray_workers): connect, say ready, wait
    for go, send its share from start.value (its monotonic clock), and stream records to `out`."""
    client = await connect(spec, index)
    try:
        out.put(("ready", index))
        while not go.is_set():
            await asyncio.sleep(0.005)
        cpu_start = time.process_time_ns()
        start_ns = int(start.value)
        pending: list[RequestRecord] = []
        deadline = deadline_ns(start_ns, rules)
        sender = asyncio.create_task(
            drive(spec, rules.warmup_s, index, start_ns, deadline, stop.is_set, pending.append, client)
        )
        while not sender.done():
            await asyncio.wait([sender], timeout=CONTROL_PERIOD_S / 2)
            batch, pending[:] = list(pending), []
            if batch:
                out.put(
                    (
                        "records",
                        [(r.tenant, r.intended_ns, r.send_ns, r.done_ns, r.ok, r.error) for r in batch],
                    )
                )
        sender.result()
        out.put(("done", index, time.process_time_ns() - cpu_start))
    finally:
        await client.close()


def _worker_main(
    spec: LoadSpec, rules: TrialRules, index: int, out: "mp.Queue[Any]", go: Event, start: Any, stop: Event
) -> None:
    _die_with_parent()
    try:
        import uvloop

        uvloop.run(worker_loop(spec, rules, index, out, go, start, stop))
    except PerseusError as exc:
        out.put(("error", index, str(exc)))
    except BaseException as exc:  # report, never hang the parent
        out.put(("error", index, f"load worker {index} failed: {type(exc).__name__}: {exc}"))


def run_workers(
    spec: LoadSpec, rules: TrialRules, on_tick: Tick | None, watch: SlaWatch | None = None
) -> TrialRecords:
    ctx = mp.get_context("spawn")  # grpc and asyncio state must not be forked
    out: mp.Queue[Any] = ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    start = ctx.Value("q", 0)
    procs: list[SpawnProcess] = [
        ctx.Process(
            target=_worker_main,
            args=(spec, rules, i, out, go, start, stop),
            daemon=True,
            name=f"perseus-load-{i}",
        )
        for i in range(spec.workers)
    ]
    for proc in procs:
        proc.start()
    try:
        ready = 0
        while ready < spec.workers:
            message = out.get(timeout=_READY_TIMEOUT_S)
            if message[0] == "error":
                raise EndpointError(message[2])
            ready += 1
        start_ns = time.monotonic_ns() + START_MARGIN_NS
        start.value = start_ns
        go.set()
        return collect(spec, rules, out, start_ns, on_tick, stop, watch)
    except queue.Empty:
        raise EndpointError(f"load workers did not get ready within {_READY_TIMEOUT_S:g} s") from None
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def collect(
    spec: LoadSpec,
    rules: TrialRules,
    out: Inbox,
    start_ns: int,
    on_tick: Tick | None,
    stop: Settable,
    watch: SlaWatch | None = None,
) -> TrialRecords:
    """The parent's side: records from every worker into one trial, ended by the trial rules (it sets
    `stop` for the workers), once every worker said it is done."""
    control = Controller(rules, start_ns, spec.mode != "closed", watch)
    records: list[RequestRecord] = []
    done, cpu_ns = 0, 0
    end_ns: int | None = None
    while done < spec.workers:
        with contextlib.suppress(queue.Empty):
            message = out.get(timeout=CONTROL_PERIOD_S)
            if message[0] == "records":
                records.extend(RequestRecord(*fields) for fields in message[1])
            elif message[0] == "done":
                done += 1
                cpu_ns += message[2]
            elif message[0] == "error":
                raise EndpointError(message[2])
        now = time.monotonic_ns()
        if on_tick:
            on_tick(control.progress(now))
        if end_ns is None:
            end_ns = control.check(records, now)
            if end_ns is not None:
                stop.set()
    if end_ns is None:
        end_ns = control.window_start_ns + round(rules.max_duration_s * 1e9)
    return control.records(spec, records, end_ns, cpu_ns)
