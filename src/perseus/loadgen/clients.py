"""How to send: one lean async client per protocol (KServe-v2 gRPC or HTTP) with pre-built requests.

Each (model, batch) request is built and serialized once from the model's metadata, with inputs of its
shape holding the values the input-data setting names (models.inputs), and reused: inputs are
read-only, and the cost of sending is what we measure.
Responses are checked for success but not decoded.
"""

import json
from typing import Any

import numpy as np
import tritonclient.grpc.service_pb2 as pb
from tritonclient.utils import triton_to_np_dtype

from perseus.config.inputs import NORMAL
from perseus.core.errors import ConfigError, EndpointError, one_line
from perseus.loadgen.client_base import CONNECT_TIMEOUT_S, Protocol_, RequestFailed
from perseus.loadgen.fastgrpc import FastGrpc, GrpcStatusError
from perseus.loadgen.fasthttp import FastHttp, HttpStatusError, get_request, infer_request
from perseus.loadgen.http2 import message as grpc_message
from perseus.loadgen.inprocess_client import InprocessClient
from perseus.models.inputs import InputTensor, make_inputs

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


def input_tensors(meta: dict[str, Any]) -> list[InputTensor]:
    """A model's inputs as its KServe-v2 metadata describes them (-1: a dynamic dim; first: the batch)."""
    tensors = []
    for spec in meta["inputs"]:
        datatype = spec["datatype"]
        dtype = triton_to_np_dtype(datatype)
        if dtype is None or datatype == "BYTES":
            raise EndpointError(f"input datatype {datatype} is not supported by the load generator")
        tensors.append(InputTensor(spec["name"], tuple(int(d) for d in spec["shape"]), np.dtype(dtype)))
    return tensors


def request_inputs(
    meta: dict[str, Any], batch: int, seed: int, tenant: str, data: str = NORMAL
) -> list[tuple[str, list[int], str, bytes]]:
    """(name, shape, datatype, raw bytes) of each input of one request, with the values `data` names."""
    rng = np.random.default_rng([seed, batch, *tenant.encode()])
    arrays = make_inputs(data, input_tensors(meta), batch, rng)
    return [
        (spec["name"], list(arrays[spec["name"]].shape), spec["datatype"], arrays[spec["name"]].tobytes())
        for spec in meta["inputs"]
    ]


class GrpcClient:
    """KServe-v2 over gRPC, on our lean HTTP/2 client (same wire protocol as tritonclient's)."""

    def __init__(self, url: str, timeout_s: float, seed: int, inputs: str = NORMAL) -> None:
        self.url, self.timeout_s, self.seed, self.inputs = url, timeout_s, seed, inputs
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
        for name, shape, datatype, raw in request_inputs(described, batch, self.seed, tenant, self.inputs):
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
    def __init__(
        self, url: str, timeout_s: float, seed: int, max_connections: int, inputs: str = NORMAL
    ) -> None:
        self.url, self.timeout_s, self.seed, self.inputs = url, timeout_s, seed, inputs
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
        inputs = request_inputs(meta, batch, self.seed, tenant, self.inputs)
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
    inputs: str = NORMAL,
) -> GrpcClient | HttpClient | InprocessClient:
    """A checked client with a prepared request for every (model, batch) in `needs`, its inputs holding
    the values `inputs` names (the in-process reference's worker holds its own: it was started with them)."""
    client: GrpcClient | HttpClient | InprocessClient
    if protocol == "grpc":
        client = GrpcClient(url, timeout_s, seed, inputs)
    elif protocol == "http":
        client = HttpClient(url, timeout_s, seed, max_connections, inputs)
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
