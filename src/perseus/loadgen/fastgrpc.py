"""A lean gRPC client (HTTP/2 over cleartext TCP) for unary KServe-v2 calls: pre-encoded headers, one
connection multiplexing every call, and only the framing a unary call needs (flow control, PING, SETTINGS,
GOAWAY, RST_STREAM). grpc.aio spends ~160 µs of CPU a call on this host, taken from the server measured.

The wire format (frames, HPACK) is in http2.py. Response headers are decoded in order, since a later block
may refer to an earlier one; a block that changes nothing in the decoder's table is remembered, so the
steady state (every answer the same bytes) costs a dict lookup.
"""

import asyncio
from typing import Any
from urllib.parse import unquote

import hpack

from perseus.loadgen.address import host_port
from perseus.loadgen.http2 import (
    ACK,
    CANCEL,
    CONTINUATION,
    DATA,
    ENABLE_PUSH,
    END_HEADERS,
    END_STREAM,
    GOAWAY,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    LAST_STREAM_ID,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    PADDED,
    PING,
    PREFACE,
    PRIORITY,
    REPLENISH,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    HeaderDecoder,
    frame,
    frame_head,
    request_headers,
)


class GrpcStatusError(Exception):
    """An answer with a non-zero grpc-status (or an HTTP-level failure mapped to one)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message or f"grpc-status {code}")
        self.code = code


class _Stream:
    __slots__ = ("body", "future", "grpc_message", "grpc_status", "http_status", "pending", "window")

    def __init__(self, future: "asyncio.Future[bytes]", window: int, pending: memoryview, body: bool) -> None:
        self.future, self.window, self.pending = future, window, pending
        self.body: bytearray | None = bytearray() if body else None
        self.http_status: int | None = None
        self.grpc_status: int | None = None
        self.grpc_message = ""


class Connection(asyncio.Protocol):
    """One HTTP/2 connection; calls are streams on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.broken: BaseException | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._streams: dict[int, _Stream] = {}
        self._blocked: dict[int, _Stream] = {}  # streams with data waiting for flow-control window
        self._next_id = 1
        self._window = 65535  # what we may still send on the connection
        self._peer_initial = 65535
        self._peer_frame = 16384
        self.peer_streams = 100  # until the server's SETTINGS say otherwise
        self._received = 0
        self._headers = HeaderDecoder()
        self._block: tuple[int, int, bytearray] | None = None  # (stream, flags, fragments) until END_HEADERS

    @property
    def active(self) -> int:
        return len(self._streams)

    @property
    def usable(self) -> bool:
        return self.broken is None and self._next_id < LAST_STREAM_ID

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        settings = b"".join(
            k.to_bytes(2, "big") + v.to_bytes(4, "big")
            for k, v in ((ENABLE_PUSH, 0), (INITIAL_WINDOW_SIZE, MAX_WINDOW))
        )
        transport.write(  # type: ignore[attr-defined]
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, (MAX_WINDOW - 65535).to_bytes(4, "big"))
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(exc or ConnectionError("connection closed by the server"))

    def close(self) -> None:
        self._fail_all(ConnectionError("client closed"))

    def _fail_all(self, exc: BaseException) -> None:
        if self.broken is None:
            self.broken = exc
        if not self.ready.done():
            self.ready.set_exception(exc)
            self.ready.exception()  # retrieved here; the caller awaiting it gets it too
        streams, self._streams, self._blocked = self._streams, {}, {}
        for stream in streams.values():
            if not stream.future.done():
                stream.future.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def call(self, headers: bytes, body: bytes, keep_body: bool) -> tuple[int, "asyncio.Future[bytes]"]:
        """Start a unary call; its future gets the response message (empty unless keep_body)."""
        if self.broken is not None or self.transport is None:
            raise ConnectionError(f"connection unusable: {self.broken}")
        stream_id = self._next_id
        self._next_id += 2
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        stream = _Stream(future, self._peer_initial, memoryview(body), keep_body)
        self._streams[stream_id] = stream
        out = frame(HEADERS, END_HEADERS, stream_id, headers)
        if len(body) <= min(self._window, stream.window, self._peer_frame):  # the usual case: one write
            self._window -= len(body)
            stream.window -= len(body)
            stream.pending = memoryview(b"")
            # The body (602 KB for a 224×224 image) is handed over as it is (uvloop writes the buffers
            # as they are; plain asyncio joins them once): concatenating it with the frame headers copied
            # it twice a call, CPU taken from the server measured on a small host.
            self.transport.writelines((out + frame_head(DATA, END_STREAM, stream_id, len(body)), body))
        else:
            self.transport.write(out)
            self._blocked[stream_id] = stream
            self._flush()
        return stream_id, future

    def cancel(self, stream_id: int) -> None:
        """Forget a call (timed out or abandoned) and tell the server."""
        self._blocked.pop(stream_id, None)
        if self._streams.pop(stream_id, None) is not None and self.transport is not None and not self.broken:
            self.transport.write(frame(RST_STREAM, 0, stream_id, CANCEL.to_bytes(4, "big")))

    def _flush(self) -> None:
        assert self.transport is not None
        for stream_id, stream in list(self._blocked.items()):
            while stream.pending and self._window > 0 and stream.window > 0:
                size = min(len(stream.pending), self._window, stream.window, self._peer_frame)
                chunk, stream.pending = stream.pending[:size], stream.pending[size:]
                self._window -= size
                stream.window -= size
                flags = 0 if stream.pending else END_STREAM
                self.transport.write(frame(DATA, flags, stream_id, bytes(chunk)))
            if not stream.pending:
                del self._blocked[stream_id]
            if self._window <= 0:
                return

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        at = 0
        try:
            while len(buffer) - at >= 9:
                length = int.from_bytes(buffer[at : at + 3], "big")
                if len(buffer) - at < 9 + length:
                    break
                kind, flags = buffer[at + 3], buffer[at + 4]
                stream_id = int.from_bytes(buffer[at + 5 : at + 9], "big") & LAST_STREAM_ID
                payload = bytes(buffer[at + 9 : at + 9 + length])
                at += 9 + length
                self._frame(kind, flags, stream_id, payload)
        except (hpack.HPACKError, ValueError, IndexError) as exc:
            self._fail_all(ConnectionError(f"bad HTTP/2 data from the server: {exc}"))
        finally:
            del buffer[:at]

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == DATA:
            self._received += len(payload)
            stream = self._streams.get(stream_id)
            if stream is not None and stream.body is not None:
                stream.body += _unpad(payload, flags)
            if flags & END_STREAM and stream is not None:
                self._finish(stream_id, stream)
            if self._received >= REPLENISH:
                self._send(frame(WINDOW_UPDATE, 0, 0, self._received.to_bytes(4, "big")))
                self._received = 0
        elif kind in (HEADERS, CONTINUATION):
            self._header_fragment(kind, flags, stream_id, payload)
        elif kind == SETTINGS:
            if not flags & ACK:
                self._settings(payload)
        elif kind == WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & LAST_STREAM_ID
            if stream_id == 0:
                self._window += increment
            elif stream_id in self._streams:
                self._streams[stream_id].window += increment
            if self._blocked:
                self._flush()
        elif kind == PING:
            if not flags & ACK:
                self._send(frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM:
            stream = self._streams.pop(stream_id, None)
            self._blocked.pop(stream_id, None)
            if stream is not None and not stream.future.done():
                code = int.from_bytes(payload[:4], "big")
                reset = ConnectionError(f"stream reset by the server (HTTP/2 error {code})")
                stream.future.set_exception(reset)
        elif kind == GOAWAY:
            code = int.from_bytes(payload[4:8], "big")
            detail = payload[8:].decode(errors="replace")
            self._fail_all(ConnectionError(f"server closed the connection (GOAWAY {code}) {detail}".strip()))

    def _settings(self, payload: bytes) -> None:
        for at in range(0, len(payload) - 5, 6):
            key = int.from_bytes(payload[at : at + 2], "big")
            value = int.from_bytes(payload[at + 2 : at + 6], "big")
            if key == INITIAL_WINDOW_SIZE:
                for stream in self._streams.values():
                    stream.window += value - self._peer_initial
                self._peer_initial = value
            elif key == MAX_FRAME_SIZE:
                self._peer_frame = value
            elif key == MAX_CONCURRENT_STREAMS:
                self.peer_streams = value
        self._send(frame(SETTINGS, ACK, 0))
        if not self.ready.done():
            self.ready.set_result(None)
        if self._blocked:
            self._flush()

    def _header_fragment(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == HEADERS:
            payload = _unpad(payload, flags)
            if flags & PRIORITY:
                payload = payload[5:]
            self._block = (stream_id, flags, bytearray(payload))
        elif self._block is not None:
            self._block[2].extend(payload)
        if not flags & END_HEADERS or self._block is None:
            return
        stream_id, first_flags, block = self._block
        self._block = None
        headers = self._headers.decode(bytes(block))  # always: the decoder's table depends on every block
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        for name, value in headers:
            if name == b":status":
                stream.http_status = int(value)
            elif name == b"grpc-status":
                stream.grpc_status = int(value)
            elif name == b"grpc-message":
                stream.grpc_message = unquote(value.decode(errors="replace"))  # percent-encoded
        if first_flags & END_STREAM:
            self._finish(stream_id, stream)

    def _finish(self, stream_id: int, stream: _Stream) -> None:
        del self._streams[stream_id]
        self._blocked.pop(stream_id, None)
        if stream.future.done():
            return
        if stream.http_status not in (None, 200):
            stream.future.set_exception(GrpcStatusError(2, f"HTTP status {stream.http_status}"))
        elif stream.grpc_status is None:
            stream.future.set_exception(GrpcStatusError(2, "answer without grpc-status"))
        elif stream.grpc_status != 0:
            stream.future.set_exception(GrpcStatusError(stream.grpc_status, stream.grpc_message))
        else:
            body = bytes(stream.body[5:]) if stream.body is not None else b""
            stream.future.set_result(body)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and self.broken is None:
            self.transport.write(data)


def _unpad(payload: bytes, flags: int) -> bytes:
    if flags & PADDED:
        return payload[1 : len(payload) - payload[0]]
    return payload


class FastGrpc:
    """Unary calls to one host:port over as few HTTP/2 connections as the server's stream limit allows."""

    def __init__(self, url: str) -> None:
        self.host, self.port = host_port(url)
        self._connections: list[Connection] = []
        self._opening: asyncio.Future[Connection] | None = None

    def headers(self, path: str) -> bytes:
        return request_headers(f"{self.host}:{self.port}", path)

    def _ready(self) -> Connection | None:
        for conn in self._connections:
            if conn.usable and conn.active < conn.peer_streams:
                return conn
        return None

    async def _open(self) -> Connection:
        """A new connection, once the server's SETTINGS arrived; concurrent callers share one attempt."""
        if self._opening is not None:
            await asyncio.shield(self._opening)
            ready = self._ready()
            return ready if ready is not None else await self._open()
        loop = asyncio.get_running_loop()
        self._opening = opening = loop.create_future()
        self._connections = [c for c in self._connections if c.broken is None]
        try:
            _, conn = await loop.create_connection(Connection, self.host, self.port)
            try:
                await conn.ready
            except BaseException:
                conn.close()
                raise
            self._connections.append(conn)
            opening.set_result(conn)
            return conn
        except BaseException as exc:
            # The waiters must not see this attempt's cancellation (a timeout of its first caller) as
            # their own: they get a connection error instead.
            opening.set_exception(exc if isinstance(exc, Exception) else ConnectionError("connect abandoned"))
            opening.exception()  # retrieved: the waiters see it through shield
            raise
        finally:
            self._opening = None

    async def call(self, headers: bytes, body: bytes, timeout_s: float, keep_body: bool = False) -> bytes:
        """One unary call with a pre-built HPACK block and length-prefixed message."""
        conn = self._ready()
        if conn is None:
            conn = await asyncio.wait_for(self._open(), timeout_s)
        stream_id, future = conn.call(headers, body, keep_body)
        timer = asyncio.get_running_loop().call_later(timeout_s, _expire, conn, stream_id, future, timeout_s)
        try:
            return await future
        except BaseException:
            conn.cancel(stream_id)
            raise
        finally:
            timer.cancel()

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
        self._connections.clear()


def _expire(conn: Connection, stream_id: int, future: "asyncio.Future[Any]", timeout_s: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer within {timeout_s:g} s"))
    conn.cancel(stream_id)
