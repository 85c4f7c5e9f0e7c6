"""The `host:port` address both lean clients (HTTP/1.1 and gRPC) take."""


def host_port(url: str) -> tuple[str, int]:
    """`127.0.0.1:8001` → ("127.0.0.1", 8001); ValueError with the offending text otherwise."""
    host, _, port = url.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {url!r}")
    return host, int(port)
