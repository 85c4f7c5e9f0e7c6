"""What every load-generator client shares: the protocols, the client interface the senders use, and the
error a failed request raises."""

from typing import Literal, Protocol

Protocol_ = Literal["grpc", "http", "inprocess"]
CONNECT_TIMEOUT_S = 5.0


class RequestFailed(Exception):
    """A request that got no valid answer; `kind` groups errors for reporting."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class InferClient(Protocol):
    async def infer(self, tenant: str, batch: int) -> None: ...

    async def close(self) -> None: ...
