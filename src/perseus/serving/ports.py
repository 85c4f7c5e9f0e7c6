"""Loopback port helpers: pick free ports, and refuse a port that is already taken."""

import socket

from perseus.core.errors import ServerError


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_free(host: str, port: int, what: str) -> None:
    """Refuse a port the server could not bind. Bound as tritonserver binds (SO_REUSEADDR): the
    TIME_WAIT sockets a stopped server leaves for ~60 s do not stop it, a live listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServerError(f"{what} port {port} on {host} is already in use ({exc.strerror})") from None


def pick_ports(host: str, wanted: dict[str, int | None]) -> dict[str, int]:
    """Given ports are checked, missing ones picked; all must differ."""
    chosen: dict[str, int] = {}
    for what, port in wanted.items():
        if port is not None:
            ensure_free(host, port, what)
            chosen[what] = port
    for what, port in wanted.items():
        if port is None:
            candidate = free_port(host)
            while candidate in chosen.values():
                candidate = free_port(host)
            chosen[what] = candidate
    if len(set(chosen.values())) != len(chosen):
        raise ServerError(f"the http, grpc and metrics ports must differ, got {chosen}")
    return chosen
