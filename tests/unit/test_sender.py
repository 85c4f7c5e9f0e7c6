"""The issuer's timing: open-loop sends never precede their intended time (on uvloop too)."""

import asyncio
import time

import pytest
import uvloop

from perseus.loadgen.client_base import RequestFailed
from perseus.loadgen.records import RequestRecord
from perseus.loadgen.schedule import Arrival, TenantRate, open_loop
from perseus.loadgen.sender import MAX_ERROR_CHARS, error_text, send_open
from perseus.loadgen.timer import Timer


class _InstantClient:
    async def infer(self, tenant: str, batch: int) -> None:
        await asyncio.sleep(0)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("run", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])
def test_open_loop_sends_are_never_early(run: object) -> None:
    records: list[RequestRecord] = []
    arrivals = open_loop([TenantRate("m", 400.0, "poisson")], seed=3)

    async def go() -> None:
        start = time.monotonic_ns()
        stop = start + 600_000_000
        await send_open(_InstantClient(), arrivals, start, stop, lambda: False, records.append, None)

    run(go())  # type: ignore[operator]
    assert len(records) > 150
    early = [r for r in records if r.send_ns < r.intended_ns]
    worst = min((r.lateness_ns for r in early), default=0)
    assert not early, f"{len(early)} of {len(records)} sent early, worst by {-worst} ns"


def test_timer_wakes_at_the_instant_not_before() -> None:
    async def go() -> list[int]:
        lateness = []
        async with Timer() as timer:
            assert timer.precise  # timerfd on Linux
            for step in range(1, 60):
                when = time.monotonic_ns() + step * 37_000
                await timer.until(when)
                lateness.append(time.monotonic_ns() - when)
            await timer.until(time.monotonic_ns() - 1)  # past: returns at once
        return lateness

    lateness = uvloop.run(go())
    assert min(lateness) >= 0


class _RefusingClient(_InstantClient):
    async def infer(self, tenant: str, batch: int) -> None:
        raise RequestFailed("INVALID_ARGUMENT", "inference request batch-size must be <= 8 for 'm'")


def test_a_failed_request_keeps_the_servers_words() -> None:
    records: list[RequestRecord] = []
    arrivals = iter([Arrival(0, "m", 16)])
    asyncio.run(
        send_open(
            _RefusingClient(),
            arrivals,
            time.monotonic_ns(),
            time.monotonic_ns() + 10**9,
            lambda: False,
            records.append,
            None,
        )
    )
    assert [r.error for r in records] == [
        "INVALID_ARGUMENT: inference request batch-size must be <= 8 for 'm'"
    ]
    assert error_text(RequestFailed("timeout", "x" * 500)).endswith("…")
    assert len(error_text(RequestFailed("timeout", "x" * 500))) == MAX_ERROR_CHARS
    assert error_text(RequestFailed("UNAVAILABLE", "")) == "UNAVAILABLE"
