"""The issuer: turns a schedule into requests on one asyncio loop and records what happened.

Open loop: each arrival is sent at its intended time (never before it, see timer.py) whether or not
earlier ones have returned (up to an optional in-flight cap; a send held back by the cap is late, and
its latency still counts from the intended time). Closed loop: each virtual user sends its next
request when the last returns.
"""

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence

from perseus.loadgen.client_base import InferClient, RequestFailed
from perseus.loadgen.records import RequestRecord
from perseus.loadgen.schedule import Arrival
from perseus.loadgen.timer import Timer

Sink = Callable[[RequestRecord], None]
Stopped = Callable[[], bool]


MAX_ERROR_CHARS = 200


def error_text(exc: RequestFailed) -> str:
    """The error as recorded: its kind and the server's own words (Triton's message says what it refused,
    e.g. a batch above the model's max_batch_size), cut short so one record stays small."""
    detail = str(exc).strip()
    text = f"{exc.kind}: {detail}" if detail and detail != exc.kind else exc.kind
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


async def _one(client: InferClient, tenant: str, batch: int, intended_ns: int, sink: Sink) -> None:
    send_ns = time.monotonic_ns()
    try:
        await client.infer(tenant, batch)
    except RequestFailed as exc:
        sink(RequestRecord(tenant, intended_ns, send_ns, time.monotonic_ns(), False, error_text(exc)))
    except Exception as exc:  # a transport failure must be counted, not kill the trial
        sink(RequestRecord(tenant, intended_ns, send_ns, time.monotonic_ns(), False, type(exc).__name__))
    else:
        sink(RequestRecord(tenant, intended_ns, send_ns, time.monotonic_ns(), True))


async def send_open(
    client: InferClient,
    arrivals: Iterator[Arrival],
    start_ns: int,
    stop_ns: int,
    stopped: Stopped,
    sink: Sink,
    max_in_flight: int | None,
) -> None:
    """Send each arrival at start_ns + t_ns until stop_ns (or stopped()), then wait for all answers.

    Once stopped, an arrival already due is still sent (at once: a sender running behind catches up), so a
    trial ended at some moment holds every request meant before it; the next not yet due is not. Under an
    in-flight cap the backlog may be long (sends held back by the cap): it stops at once."""
    in_flight: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
    noticed_ns: int | None = None  # when this sender first saw stopped()

    def release(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        if slots is not None:
            slots.release()

    async with Timer() as timer:
        for arrival in arrivals:
            intended_ns = start_ns + arrival.t_ns
            if intended_ns >= stop_ns:
                break
            if noticed_ns is None and stopped():
                noticed_ns = time.monotonic_ns()
            if noticed_ns is not None and (intended_ns >= noticed_ns or slots is not None):
                break
            await timer.until(intended_ns)
            if slots is not None:
                await slots.acquire()
            task = asyncio.create_task(_one(client, arrival.tenant, arrival.batch, intended_ns, sink))
            in_flight.add(task)
            task.add_done_callback(release)
    if in_flight:
        await asyncio.gather(*in_flight)


async def send_closed(
    client: InferClient,
    users: int,
    cycle: Sequence[str],
    batch: int,
    stop_ns: int,
    stopped: Stopped,
    sink: Sink,
    first_user: int = 0,
    stagger_ns: int = 0,
) -> None:
    """`users` virtual users; user u sends cycle[(u + k) % len(cycle)] as its k-th request.

    User u starts u × stagger_ns late: users started together against a deterministic server stay in
    lockstep, and completions arriving in bursts of c would quantize the measured throughput.
    """

    async def user(index: int) -> None:
        turn = index
        if stagger_ns:
            await asyncio.sleep(index * stagger_ns / 1e9)
        while True:
            now = time.monotonic_ns()
            if now >= stop_ns or stopped():
                return
            tenant = cycle[turn % len(cycle)]
            turn += 1
            await _one(client, tenant, batch, now, sink)

    await asyncio.gather(*(user(first_user + u) for u in range(users)))
