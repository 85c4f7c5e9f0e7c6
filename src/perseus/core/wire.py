"""The in-process reference backend's wire format: tiny fixed-size binary frames on a Unix socket, and
its inproc://DIR URLs (DIR holds one <tenant>.sock per tenant).

A request names only an id and a batch size (the worker owns its pre-generated inputs), so what is
measured is the model, not tensor serialization. Many requests share one connection and are answered
out of order, matched by id. Batch 0 is a health ping, answered at once without running the model.
"""

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from perseus.core.errors import ConfigError

REQUEST = struct.Struct("<IH")  # request_id u32, batch u16
RESPONSE = struct.Struct("<IBH")  # request_id u32, status u8, length of the utf-8 error text u16
MAX_REQUEST_ID = (1 << 32) - 1
MAX_BATCH = (1 << 16) - 1
MAX_ERROR_BYTES = (1 << 16) - 1
PING = 0  # the batch size of a health ping

OK = 0
INVALID_ARGUMENT = 1  # the request cannot be served as asked (e.g. batch above max_batch_size)
INTERNAL = 2  # the model failed to run
STATUS_NAMES = {OK: "OK", INVALID_ARGUMENT: "INVALID_ARGUMENT", INTERNAL: "INTERNAL"}

URL_SCHEME = "inproc://"

# sun_path holds 108 bytes including the terminating NUL.
_MAX_UNIX_PATH = 107


@dataclass(frozen=True)
class Request:
    request_id: int
    batch: int


@dataclass(frozen=True)
class Response:
    request_id: int
    status: int
    error: str = ""


def pack_request(request_id: int, batch: int) -> bytes:
    return REQUEST.pack(request_id, batch)


def pack_response(request_id: int, status: int, error: str = "") -> bytes:
    """One response frame; an error text longer than the frame allows is cut at a character boundary."""
    text = error.encode()[:MAX_ERROR_BYTES].decode(errors="ignore").encode()
    return RESPONSE.pack(request_id, status, len(text)) + text


def take_requests(buffer: bytearray) -> list[Request]:
    """Remove and return every complete request frame at the start of buffer (a partial one stays)."""
    count = len(buffer) // REQUEST.size
    if count == 0:
        return []
    frames = [Request(*fields) for fields in REQUEST.iter_unpack(memoryview(buffer)[: count * REQUEST.size])]
    del buffer[: count * REQUEST.size]
    return frames


def take_responses(buffer: bytearray) -> list[Response]:
    """Remove and return every complete response frame at the start of buffer (a partial one stays)."""
    frames: list[Response] = []
    offset = 0
    while len(buffer) - offset >= RESPONSE.size:
        request_id, status, length = RESPONSE.unpack_from(buffer, offset)
        end = offset + RESPONSE.size + length
        if end > len(buffer):
            break
        error = bytes(buffer[offset + RESPONSE.size : end]).decode(errors="replace")
        frames.append(Response(request_id, status, error))
        offset = end
    del buffer[:offset]
    return frames


def socket_name(tenant: str) -> str:
    return f"{tenant}.sock"


def format_url(socket_dir: Path) -> str:
    """The URL the in-process server gives its load generator: the folder of the tenants' sockets."""
    return URL_SCHEME + str(socket_dir)


def parse_url(url: str) -> Path:
    """The sockets' folder named by an in-process reference URL (ConfigError if `url` is not one)."""
    if not url.startswith(URL_SCHEME) or len(url) == len(URL_SCHEME):
        raise ConfigError(f"an in-process reference URL looks like {URL_SCHEME}DIR, got {url!r}")
    return Path(url[len(URL_SCHEME) :])


@contextlib.contextmanager
def unix_path(path: Path) -> Iterator[str]:
    """A path to bind or connect to for `path`: AF_UNIX paths are limited to 107 bytes, so a longer one
    is reached through its directory's file descriptor (/proc/self/fd/N/name), valid inside the block."""
    text = str(path)
    if len(text.encode()) <= _MAX_UNIX_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
