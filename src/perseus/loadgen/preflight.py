"""Before any load: one request per (model, batch) the load will send, so a request the server refuses
(a batch above max_batch_size, a model it does not serve, the wrong protocol for the port) is one clear
line with the server's own words, not a trial full of errors."""

import asyncio

from perseus.core.errors import EndpointError
from perseus.loadgen.client_base import Protocol_, RequestFailed
from perseus.loadgen.clients import open_client
from perseus.loadgen.spec import LoadSpec

OTHER: dict[Protocol_, Protocol_] = {"grpc": "http", "http": "grpc"}


async def _speaks(url: str, protocol: Protocol_) -> bool:
    """Whether a KServe-v2 server of this protocol answers at url."""
    try:
        client = await open_client(url, protocol, set(), timeout_s=2.0, seed=0, max_connections=1)
    except Exception:  # any failure means "not this protocol"; the caller reports the first error
        return False
    await client.close()
    return True


async def _check(spec: LoadSpec) -> None:
    try:
        client = await open_client(
            spec.url,
            spec.protocol,
            spec.needs(),
            timeout_s=spec.request_timeout_s,
            seed=spec.seed,
            max_connections=1,
            inputs=spec.inputs,
        )
    except EndpointError as exc:
        other = OTHER.get(spec.protocol)
        if other is not None and await _speaks(spec.url, other):
            raise EndpointError(
                f"{exc}; a KServe-v2 {other.upper()} server answers there: did you mean --protocol {other}?"
            ) from None
        raise
    try:
        for tenant, batch in sorted(spec.needs()):
            try:
                await client.infer(tenant, batch)
            except RequestFailed as failed:
                raise EndpointError(
                    f"{tenant} refused a request of batch {batch} before the load started: "
                    f"{failed.kind}: {failed}"
                ) from None
    finally:
        await client.close()


def preflight(spec: LoadSpec) -> None:
    """Blocking: EndpointError naming the first request the target would refuse; nothing when all pass."""
    asyncio.run(_check(spec))
