"""The issuer's timing: open-loop sends never precede their intended time (on uvloop too)."""

import asyncio
import time

import pytest
import uvloop

from perseus.loadgen.records import RequestRecord
from perseus.loadgen.schedule import TenantRate, open_loop
from perseus.loadgen.sender import send_open
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
