"""Serving backends: the embedded tritonserver and its generated model repositories."""

from perseus.serving.install import TRITON_VERSION
from perseus.serving.server import Endpoints, RunningServer, embedded_server

__all__ = ["TRITON_VERSION", "Endpoints", "RunningServer", "embedded_server"]
