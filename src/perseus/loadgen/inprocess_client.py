"""The client of the in-process reference backend: one Unix-socket connection per tenant, requests
multiplexed on it by id (tiny frames of core.wire; the worker holds the inputs, so nothing is serialized).
"""

import asyncio

from perseus.core import wire
from perseus.core.errors import EndpointError, one_line
from perseus.loadgen.client_base import CONNECT_TIMEOUT_S, RequestFailed


class _Connection(asyncio.Protocol):
    """One connection to a tenant's worker; answers arrive in any order and complete the matching future."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.broken: BaseException | None = None
        self._buffer = bytearray()
        self._pending: dict[int, asyncio.Future[wire.Response]] = {}
        self._next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for response in wire.take_responses(self._buffer):
            # An unknown id is a request that timed out meanwhile: its answer is dropped.
            future = self._pending.pop(response.request_id, None)
            if future is not None and not future.done():
                future.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = exc or ConnectionError("connection closed by the in-process worker")
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(self.broken)

    def _expire(self, request_id: int, timeout_s: float) -> None:
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_exception(TimeoutError(f"no answer within {timeout_s:g} s"))

    async def call(self, batch: int, timeout_s: float) -> wire.Response:
        if self.broken is not None or self.transport is None:
            raise ConnectionError(f"connection lost: {one_line(self.broken or ConnectionError())}")
        request_id, self._next_id = self._next_id, (self._next_id + 1) & wire.MAX_REQUEST_ID
        loop = asyncio.get_running_loop()
        future: asyncio.Future[wire.Response] = loop.create_future()
        self._pending[request_id] = future
        self.transport.write(wire.pack_request(request_id, batch))
        timer = loop.call_later(timeout_s, self._expire, request_id, timeout_s)
        try:
            return await future
        finally:
            timer.cancel()
            self._pending.pop(request_id, None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class InprocessClient:
    """Talks to `inprocess_server` workers at inproc://DIR (DIR holds one <tenant>.sock per tenant)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.directory = wire.parse_url(url)
        self.url, self.timeout_s = url, timeout_s
        self._connections: dict[str, asyncio.Task[_Connection]] = {}

    async def check(self) -> None:
        if not self.directory.is_dir():
            raise EndpointError(
                f"cannot reach the in-process reference server at {self.url}: no such directory"
            )

    async def _open(self, tenant: str) -> _Connection:
        path = self.directory / wire.socket_name(tenant)
        loop = asyncio.get_running_loop()
        with wire.unix_path(path) as address:
            _, conn = await asyncio.wait_for(
                loop.create_unix_connection(_Connection, address), CONNECT_TIMEOUT_S
            )
        return conn

    async def _connection(self, tenant: str) -> _Connection:
        # One task per tenant, so users starting together share a single connection.
        task = self._connections.get(tenant)
        if task is None:
            task = self._connections[tenant] = asyncio.ensure_future(self._open(tenant))
        return await task

    async def prepare(self, tenant: str, batch: int) -> None:
        """Connect to the tenant's worker and see it answer (its inputs are its own)."""
        try:
            conn = await self._connection(tenant)
            answer = await conn.call(wire.PING, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            self._connections.pop(tenant, None)
            raise EndpointError(f"model {tenant!r} is not served at {self.url}: {one_line(exc)}") from None
        if answer.status != wire.OK:
            raise EndpointError(f"model {tenant!r} at {self.url} does not answer pings: {answer.error}")

    async def infer(self, tenant: str, batch: int) -> None:
        try:
            answer = await (await self._connection(tenant)).call(batch, self.timeout_s)
        except TimeoutError as exc:
            raise RequestFailed("timeout", one_line(exc)) from None
        except OSError as exc:
            raise RequestFailed("connection", one_line(exc)) from None
        if answer.status != wire.OK:
            raise RequestFailed(wire.STATUS_NAMES.get(answer.status, f"status {answer.status}"), answer.error)

    async def close(self) -> None:
        for task in self._connections.values():
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().close()
            else:
                task.cancel()
        self._connections.clear()
