"""A lean HTTP/1.1 client for KServe-v2 inference: pre-built request bytes, keep-alive connections,
and just enough response parsing to get the status and body. The general-purpose clients spend
hundreds of µs of CPU per request, which on a small host is taken from the server being measured."""

import asyncio
import json
from typing import Any

from perseus.loadgen.address import host_port

_HEADER_END = b"\r\n\r\n"


class HttpStatusError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200].decode(errors='replace')}")
        self.status = status


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._need: int | None = None
        self._status = 0
        self.broken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._need is None:
            end = self._buffer.find(_HEADER_END)
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._status = int(head[9:12])
            self._need = _content_length(head)
            if self._need < 0:
                self._fail(ConnectionError("response without Content-Length"))
                return
        if len(self._buffer) >= self._need:
            body = bytes(self._buffer[: self._need])
            del self._buffer[: self._need]
            self._need = None
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result((self._status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        self.broken = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def send(self, data: bytes) -> "asyncio.Future[tuple[int, bytes]]":
        if self.transport is None or self._waiter is not None:
            raise ConnectionError("connection not ready for a request")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return -1


class FastHttp:
    """A pool of keep-alive connections to one host:port (grows to as many as requests in flight)."""

    def __init__(self, url: str, max_connections: int) -> None:
        self.host, self.port = host_port(url)
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.broken:
                return conn
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    async def request(self, data: bytes, timeout_s: float) -> bytes:
        """Send pre-built request bytes; the body of a 200 answer, else HttpStatusError."""
        async with self._slots:
            conn = await self._connection()
            future = conn.send(data)
            timer = asyncio.get_running_loop().call_later(timeout_s, _expire, conn, future, timeout_s)
            try:
                status, body = await future
            except BaseException:
                conn._fail(ConnectionError("abandoned"))
                raise
            finally:
                timer.cancel()
            self._idle.append(conn)
        if status != 200:
            raise HttpStatusError(status, body)
        return body

    def close(self) -> None:
        for conn in self._idle:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()


def _expire(conn: _Connection, future: "asyncio.Future[Any]", timeout_s: float) -> None:
    if not future.done():
        conn._fail(TimeoutError(f"no answer within {timeout_s:g} s"))


def get_request(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode()


def infer_request(host: str, model: str, inputs: list[tuple[str, list[int], str, bytes]]) -> bytes:
    """POST /v2/models/<model>/infer with the binary-tensor extension; outputs come back binary too."""
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": name,
                    "shape": shape,
                    "datatype": datatype,
                    "parameters": {"binary_data_size": len(raw)},
                }
                for name, shape, datatype, raw in inputs
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    body = header + b"".join(raw for *_, raw in inputs)
    head = (
        f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Inference-Header-Content-Length: {len(header)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
