"""The lean HTTP/2 gRPC client against a scripted peer: HPACK, flow control, PING, resets, GOAWAY."""

import asyncio
from typing import Any

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.loadgen import fastgrpc, http2
from perseus.loadgen.fastgrpc import Connection, GrpcStatusError
from perseus.loadgen.http2 import frame, message, request_headers


class _Transport:
    def __init__(self) -> None:
        self.sent = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.sent += chunk

    def close(self) -> None:
        self.closed = True


def _frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 3], "big")
        out.append(
            (
                data[at + 3],
                data[at + 4],
                int.from_bytes(data[at + 5 : at + 9], "big"),
                data[at + 9 : at + 9 + length],
            )
        )
        at += 9 + length
    return out


class _Peer:
    """The server side: an HPACK encoder with a dynamic table, as grpc's C core uses."""

    def __init__(self, conn: Connection, transport: _Transport) -> None:
        self.conn, self.transport, self.encoder = conn, transport, hpack.Encoder()

    def settings(self, **values: int) -> None:
        ids = {"window": 4, "frame": 5, "streams": 3}
        payload = b"".join(ids[k].to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in values.items())
        self.conn.data_received(frame(4, 0, 0, payload))

    def headers(
        self, stream: int, headers: list[tuple[str, str]], end: bool = False, flags: int = 0x4
    ) -> None:
        self.conn.data_received(frame(1, flags | (0x1 if end else 0), stream, self.encoder.encode(headers)))

    def answer(self, stream: int, body: bytes = b"", status: str = "0", text: str = "") -> None:
        self.headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
        self.conn.data_received(frame(0, 0, stream, message(body)))
        trailers = [("grpc-status", status)] + ([("grpc-message", text)] if text else [])
        self.headers(stream, trailers, end=True)

    def sent(self) -> list[tuple[int, int, int, bytes]]:
        data = bytes(self.transport.sent)
        self.transport.sent.clear()
        return _frames(data[len(http2.PREFACE) :] if data.startswith(http2.PREFACE) else data)


def _connect(**settings: int) -> tuple[Connection, _Peer]:
    conn, transport = Connection(), _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    peer = _Peer(conn, transport)
    peer.settings(**settings)
    return conn, peer


def _run(body: Any) -> Any:
    return asyncio.run(body())


@given(st.integers(0, 2**20), st.integers(1, 8))
def test_hpack_integers_decode(value: int, prefix: int) -> None:
    encoded = http2._hpack_int(value, prefix)
    decoded, used = hpack.hpack.decode_integer(encoded, prefix)
    assert (decoded, used) == (value, len(encoded))


def test_request_headers_decode_to_a_grpc_call() -> None:
    block = request_headers("127.0.0.1:8001", "/inference.GRPCInferenceService/ModelInfer")
    assert hpack.Decoder().decode(block) == [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/inference.GRPCInferenceService/ModelInfer"),
        (":authority", "127.0.0.1:8001"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]


def test_handshake_then_calls_answered_from_a_dynamic_table() -> None:
    async def body() -> None:
        conn, peer = _connect(window=1 << 20, streams=50)
        frames = peer.sent()
        assert frames[0][0] == 4 and frames[1][0] == 8  # our SETTINGS and connection WINDOW_UPDATE
        assert (4, 1, 0, b"") in frames  # their SETTINGS acknowledged
        assert conn.ready.done() and conn.peer_streams == 50
        results = []
        for _ in range(3):  # later answers refer to table entries the first one added
            stream, future = conn.call(b"\x83", message(b"req"), keep_body=True)
            peer.answer(stream, b"resp")
            results.append(await future)
        assert results == [b"resp"] * 3 and conn.active == 0
        stream, future = conn.call(b"\x83", message(b"req"), keep_body=False)
        peer.headers(
            stream, [(":status", "200"), ("grpc-status", "5"), ("grpc-message", "no%20model")], end=True
        )
        with pytest.raises(GrpcStatusError) as info:
            await future
        assert info.value.code == 5 and str(info.value) == "no model"

    _run(body)


def test_large_message_waits_for_window_updates() -> None:
    async def body() -> None:
        conn, peer = _connect(window=1000, frame=16384)
        peer.sent()
        payload = message(bytes(2500))
        stream, future = conn.call(b"\x83", payload, keep_body=False)
        sent = peer.sent()
        assert [f[0] for f in sent] == [1, 0] and len(sent[1][3]) == 1000 and not sent[1][1] & 1
        conn.data_received(frame(8, 0, stream, (1000).to_bytes(4, "big")))
        conn.data_received(frame(8, 0, stream, (2000).to_bytes(4, "big")))
        rest = peer.sent()
        assert b"".join(f[3] for f in sent[1:] + rest) == payload and rest[-1][1] & 1  # END_STREAM last
        peer.answer(stream)
        assert await future == b""

    _run(body)


def test_ping_is_acknowledged_and_goaway_fails_calls_in_flight() -> None:
    async def body() -> None:
        conn, peer = _connect()
        peer.sent()
        conn.data_received(frame(6, 0, 0, b"12345678"))
        assert peer.sent() == [(6, 1, 0, b"12345678")]
        _, future = conn.call(b"\x83", message(b""), keep_body=False)
        conn.data_received(frame(7, 0, 0, (1).to_bytes(4, "big") + (0).to_bytes(4, "big") + b"bye"))
        with pytest.raises(ConnectionError, match="GOAWAY 0"):
            await future
        assert not conn.usable and peer.transport.closed

    _run(body)


def test_reset_stream_and_cancel() -> None:
    async def body() -> None:
        conn, peer = _connect()
        peer.sent()
        stream, future = conn.call(b"\x83", message(b""), keep_body=False)
        conn.data_received(frame(3, 0, stream, (7).to_bytes(4, "big")))
        with pytest.raises(ConnectionError, match="error 7"):
            await future
        stream, _ = conn.call(b"\x83", message(b""), keep_body=False)
        peer.sent()
        conn.cancel(stream)
        assert peer.sent() == [(3, 0, stream, (8).to_bytes(4, "big"))] and conn.active == 0
        peer.answer(stream)  # a late answer to a cancelled call still feeds the HPACK table
        stream, future = conn.call(b"\x83", message(b""), keep_body=True)
        peer.answer(stream, b"ok")
        assert await future == b"ok"

    _run(body)


def test_frames_split_anywhere_and_padding() -> None:
    async def body() -> None:
        conn, peer = _connect()
        stream, future = conn.call(b"\x83", message(b""), keep_body=True)
        head = frame(1, 0x4, stream, peer.encoder.encode([(":status", "200")]))
        data = message(b"xyz")
        padded = frame(0, 0x8, stream, bytes([2]) + data + b"\0\0")
        tail = frame(1, 0x5, stream, peer.encoder.encode([("grpc-status", "0")]))
        wire = head + padded + tail
        for at in range(len(wire)):
            conn.data_received(wire[at : at + 1])
        assert await future == b"xyz"

    _run(body)


def test_a_server_that_never_speaks_http2_times_out_every_caller_without_cancelling_them() -> None:
    async def body() -> list[BaseException | bytes]:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, then silence
        port = server.sockets[0].getsockname()[1]
        pool = fastgrpc.FastGrpc(f"127.0.0.1:{port}")
        headers = pool.headers("/x")
        try:
            return await asyncio.gather(
                pool.call(headers, message(b""), 0.2),
                pool.call(headers, message(b""), 1.0),  # waits on the first caller's attempt
                return_exceptions=True,
            )
        finally:
            pool.close()
            server.close()

    first, second = _run(body)
    assert isinstance(first, TimeoutError)
    assert isinstance(second, ConnectionError | TimeoutError), repr(second)  # not CancelledError
