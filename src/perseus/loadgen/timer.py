"""Waiting on the event loop until an exact CLOCK_MONOTONIC instant, never before it.

uvloop's timers have millisecond resolution and round: a sleep wakes up to ~1 ms early a quarter of the
time and ~0.2 ms late typically. A Linux timerfd armed at the absolute instant and watched by the loop
wakes it at that instant (tens of µs late on this host) without spinning. Where timerfd is missing,
the loop's own sleep is used and a remainder left by an early wake-up is waited out by yielding.
"""

import asyncio
import ctypes
import os
import time
from types import TracebackType

_CLOCK_MONOTONIC = 1  # the clock of time.monotonic_ns()
_TFD_NONBLOCK, _TFD_CLOEXEC, _TFD_TIMER_ABSTIME = 0o4000, 0o2000000, 1
# A wake-up from the kernel costs ~40-100 µs of CPU on this host; a gap shorter than this is cheaper to
# wait out by yielding to the loop, which keeps handling answers meanwhile.
SPIN_BELOW_NS = 150_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create  # noqa: B018  # absent outside Linux
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


class Timer:
    """One waiter at a time (the open-loop issuer); `async with Timer() as timer: await timer.until(t)`."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._when_ns = 0
        self._spec = _Itimerspec()
        self._fd = -1
        if _LIBC is not None:
            self._fd = _LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self._fd >= 0:
            self._loop.add_reader(self._fd, self._fired)

    @property
    def precise(self) -> bool:
        return self._fd >= 0

    async def __aenter__(self) -> "Timer":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def until(self, when_ns: int) -> None:
        now = time.monotonic_ns()
        if when_ns <= now:
            return
        if not self.precise or when_ns - now < SPIN_BELOW_NS:
            await asyncio.sleep((when_ns - time.monotonic_ns()) / 1e9)
            while time.monotonic_ns() < when_ns:
                await asyncio.sleep(0)
            return
        assert _LIBC is not None
        self._when_ns = when_ns
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = divmod(when_ns, 1_000_000_000)
        if _LIBC.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._waiter = self._loop.create_future()
        await self._waiter

    def _fired(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiry count; reading re-arms readiness
        except BlockingIOError:
            return
        if time.monotonic_ns() < self._when_ns:
            return  # a stale expiry of an earlier arming, read before the current one is due
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
