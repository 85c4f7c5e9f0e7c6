"""How to send: one lean async client per protocol (KServe-v2 gRPC or HTTP) with pre-built requests.

Each (model, batch) request is built and serialized once from the model's metadata, with random
inputs of its shape, and reused: inputs are read-only, and the cost of sending is what we measure.
Responses are checked for success but not decoded.
"""

import json
from typing import Any

import numpy as np
import tritonclient.grpc.service_pb2 as pb
from tritonclient.utils import triton_to_np_dtype

from perseus.core.errors import ConfigError, EndpointError, one_line
from perseus.loadgen.client_base import CONNECT_TIMEOUT_S, Protocol_, RequestFailed
from perseus.loadgen.fastgrpc import FastGrpc, GrpcStatusError
from perseus.loadgen.fasthttp import FastHttp, HttpStatusError, get_request, infer_request
from perseus.loadgen.http2 import message as grpc_message
from perseus.loadgen.inprocess_client import InprocessClient

_SERVICE = "/inference.GRPCInferenceService/"
_METHODS = ("ServerLive", "ModelMetadata", "ModelInfer")
_STATUS_NAMES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]


def random_array(shape: list[int], datatype: str, rng: np.random.Generator) -> Any:
    dtype = triton_to_np_dtype(datatype)
    if dtype is None or datatype == "BYTES":
        raise EndpointError(f"input datatype {datatype} is not supported by the load generator")
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(dtype)
    return rng.integers(0, 8, shape).astype(dtype)


def concrete_shape(shape: list[int], batch: int) -> list[int]:
    """The first dynamic dim is the batch; any other dynamic dim gets 1."""
    return [batch if (axis == 0 and d == -1) else (1 if d == -1 else d) for axis, d in enumerate(shape)]


def random_inputs(
    meta: dict[str, Any], batch: int, seed: int, tenant: str
) -> list[tuple[str, list[int], str, bytes]]:
    rng = np.random.default_rng([seed, batch, *tenant.encode()])
    inputs = []
    for spec in meta["inputs"]:
        shape = concrete_shape([int(d) for d in spec["shape"]], batch)
        inputs.append(
            (spec["name"], shape, spec["datatype"], random_array(shape, spec["datatype"], rng).tobytes())
        )
    return inputs


class GrpcClient:
    """KServe-v2 over gRPC, on our lean HTTP/2 client (same wire protocol as tritonclient's)."""

    def __init__(self, url: str, timeout_s: float, seed: int) -> None:
        self.url, self.timeout_s, self.seed = url, timeout_s, seed
        try:
            self._pool = FastGrpc(url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._paths = {name: self._pool.headers(_SERVICE + name) for name in _METHODS}
        self._requests: dict[tuple[str, int], bytes] = {}

    async def _unary(self, method: str, request: Any, timeout_s: float) -> bytes:
        return await self._pool.call(
            self._paths[method], grpc_message(request.SerializeToString()), timeout_s, keep_body=True
        )

    async def check(self) -> None:
        try:
            answer = pb.ServerLiveResponse.FromString(
                await self._unary("ServerLive", pb.ServerLiveRequest(), CONNECT_TIMEOUT_S)
            )
        except (OSError, TimeoutError, GrpcStatusError) as exc:
            raise EndpointError(
                f"cannot reach a KServe-v2 gRPC server at {self.url}: {one_line(exc)}"
            ) from None
        if not answer.live:
            raise EndpointError(f"the server at {self.url} answers but is not live")

    async def prepare(self, tenant: str, batch: int) -> None:
        try:
            meta = pb.ModelMetadataResponse.FromString(
                await self._unary("ModelMetadata", pb.ModelMetadataRequest(name=tenant), CONNECT_TIMEOUT_S)
            )
        except (OSError, TimeoutError, GrpcStatusError) as exc:
            raise EndpointError(f"model {tenant!r} is not available at {self.url}: {one_line(exc)}") from None
        described = {
            "inputs": [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape)} for i in meta.inputs]
        }
        request = pb.ModelInferRequest(model_name=tenant)
        for name, shape, datatype, raw in random_inputs(described, batch, self.seed, tenant):
            tensor = request.inputs.add()
            tensor.name, tensor.datatype = name, datatype
            tensor.shape.extend(shape)
            request.raw_input_contents.append(raw)
        self._requests[(tenant, batch)] = grpc_message(request.SerializeToString())

    async def infer(self, tenant: str, batch: int) -> None:
        try:
            await self._pool.call(self._paths["ModelInfer"], self._requests[(tenant, batch)], self.timeout_s)
        except GrpcStatusError as exc:
            raise RequestFailed(
                _STATUS_NAMES[exc.code] if exc.code < len(_STATUS_NAMES) else f"grpc-status {exc.code}",
                one_line(exc),
            ) from None
        except TimeoutError as exc:
            raise RequestFailed("DEADLINE_EXCEEDED", one_line(exc)) from None
        except OSError as exc:
            raise RequestFailed("UNAVAILABLE", one_line(exc)) from None

    async def close(self) -> None:
        self._pool.close()


class HttpClient:
    def __init__(self, url: str, timeout_s: float, seed: int, max_connections: int) -> None:
        self.url, self.timeout_s, self.seed = url, timeout_s, seed
        try:
            self._pool = FastHttp(url, max_connections)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._requests: dict[tuple[str, int], bytes] = {}

    async def _get(self, path: str) -> bytes:
        return await self._pool.request(get_request(self._pool.host, path), CONNECT_TIMEOUT_S)

    async def check(self) -> None:
        try:
            await self._get("/v2/health/live")
        except (OSError, TimeoutError, HttpStatusError) as exc:
            raise EndpointError(
                f"cannot reach a KServe-v2 HTTP server at {self.url}: {one_line(exc)}"
            ) from None

    async def prepare(self, tenant: str, batch: int) -> None:
        try:
            meta = json.loads(await self._get(f"/v2/models/{tenant}"))
        except (OSError, TimeoutError, HttpStatusError, ValueError) as exc:
            raise EndpointError(f"model {tenant!r} is not available at {self.url}: {one_line(exc)}") from None
        inputs = random_inputs(meta, batch, self.seed, tenant)
        self._requests[(tenant, batch)] = infer_request(self._pool.host, tenant, inputs)

    async def infer(self, tenant: str, batch: int) -> None:
        try:
            await self._pool.request(self._requests[(tenant, batch)], self.timeout_s)
        except HttpStatusError as exc:
            raise RequestFailed(f"HTTP {exc.status}", one_line(exc)) from None
        except TimeoutError as exc:
            raise RequestFailed("timeout", one_line(exc)) from None
        except OSError as exc:
            raise RequestFailed("connection", one_line(exc)) from None

    async def close(self) -> None:
        self._pool.close()


async def open_client(
    url: str,
    protocol: Protocol_,
    needs: set[tuple[str, int]],
    *,
    timeout_s: float,
    seed: int,
    max_connections: int,
) -> GrpcClient | HttpClient | InprocessClient:
    """A checked client with a prepared request for every (model, batch) in `needs`."""
    client: GrpcClient | HttpClient | InprocessClient
    if protocol == "grpc":
        client = GrpcClient(url, timeout_s, seed)
    elif protocol == "http":
        client = HttpClient(url, timeout_s, seed, max_connections)
    elif protocol == "inprocess":
        client = InprocessClient(url, timeout_s)
    else:
        raise ConfigError(f"protocol must be grpc, http or inprocess, got {protocol!r}")
    try:
        await client.check()
        for tenant, batch in sorted(needs):
            await client.prepare(tenant, batch)
    except BaseException:
        await client.close()
        raise
    return client
