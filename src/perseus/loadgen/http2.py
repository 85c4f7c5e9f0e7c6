"""The HTTP/2 and HPACK wire format a unary gRPC call needs (RFC 7540, RFC 7541): frame types and flags,
frames, the request's pre-encoded header block, gRPC message framing, and in-order decoding of response
header blocks (the `hpack` package) with a cache for blocks that leave the decoder's table unchanged."""

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0,
    1,
    3,
    4,
    6,
    7,
    8,
    9,
)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_CONCURRENT_STREAMS, ENABLE_PUSH = 4, 5, 3, 2
MAX_WINDOW = 2**31 - 1
LAST_STREAM_ID = 2**31 - 1
CANCEL = 8
REPLENISH = 2**30  # give the server its connection window back once this much has arrived


def frame_head(kind: int, flags: int, stream: int, length: int) -> bytes:
    """The 9-byte header of a frame whose payload is sent separately (not copied)."""
    return length.to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big")


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return frame_head(kind, flags, stream, len(payload)) + payload


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    return bytes((*out, value))


def _literal(name_index: int, value: str, name: str = "") -> bytes:
    """A header 'without indexing', so the block is the same bytes on every request."""
    head = _hpack_int(name_index, 4) + (b"" if name_index else _hpack_int(len(name), 7) + name.encode())
    return head + _hpack_int(len(value.encode()), 7) + value.encode()


def request_headers(authority: str, path: str) -> bytes:
    """HPACK block of a gRPC unary call (RFC 7541 static-table indexes: 3 POST, 6 http, 4 :path,
    1 :authority, 31 content-type)."""
    return (
        b"\x83\x86"
        + _literal(4, path)
        + _literal(1, authority)
        + _literal(31, "application/grpc")
        + _literal(0, "trailers", name="te")
    )


def message(payload: bytes) -> bytes:
    """A gRPC length-prefixed message, uncompressed."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


class HeaderDecoder:
    """HPACK decoding in arrival order, with a cache of blocks that leave the table as it was."""

    def __init__(self) -> None:
        self._decoder = hpack.Decoder()
        self._decoder.max_allowed_table_size = 65536
        self._known: dict[bytes, list[tuple[bytes, bytes]]] = {}

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        known = self._known.get(block)
        if known is not None:
            return known
        table = self._decoder.header_table
        before = tuple(table.dynamic_entries)
        headers: list[tuple[bytes, bytes]] = list(self._decoder.decode(block, raw=True))  # type: ignore[arg-type]
        if tuple(table.dynamic_entries) == before:
            self._known[block] = headers
        else:
            self._known.clear()  # cached blocks may refer to entries that moved
        return headers
