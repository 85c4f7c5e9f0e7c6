"""GPU utilisation and memory through NVML (pynvml, from nvidia-ml-py); a one-line reason when absent."""

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any, Protocol, cast

from perseus.core.errors import one_line


class Nvml(Protocol):
    """The part of pynvml we use (a fake stands in for it in tests)."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...  # .gpu: percent over NVML's period
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...  # .used, .total: bytes


@dataclass(frozen=True, slots=True)
class GpuReading:
    index: int
    uuid: str
    name: str
    utilization_percent: float
    memory_used_bytes: int
    memory_total_bytes: int


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value  # old pynvml: bytes


def _load() -> Nvml:
    # Imported by name so that a missing nvidia-ml-py is a reason, not an import error of this module.
    return cast(Nvml, importlib.import_module("pynvml"))


class NvmlGpus:
    """Opened once per sampling session; every failure becomes a one-line reason, never an exception."""

    def __init__(self, nvml: Nvml | None = None) -> None:
        self._nvml = nvml
        self._handles: list[tuple[int, Any, str, str]] = []  # index, handle, uuid, name
        self._open = False

    def open(self) -> str | None:
        """Start NVML and find the GPUs; None when ready, else why GPU telemetry is skipped."""
        try:
            nvml = self._nvml = self._nvml or _load()
        except ImportError:
            return "no GPU: nvidia-ml-py (pynvml) is not installed"
        try:
            nvml.nvmlInit()
        except Exception as exc:  # pynvml raises NVMLError subclasses; a broken driver may raise others
            return f"no GPU: {one_line(exc, limit=None)}"
        self._open = True
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                self._handles.append((index, handle, uuid, _text(nvml.nvmlDeviceGetName(handle))))
        except Exception as exc:
            self.close()
            return f"no GPU: {one_line(exc, limit=None)}"
        if not self._handles:
            self.close()
            return "no GPU: NVML found no device"
        return None

    def describe(self) -> str:
        return ", ".join(f"{index}: {name}" for index, _, _, name in self._handles)

    def read(self) -> list[GpuReading]:
        """One reading per GPU. Raises what NVML raises (the sampler turns it into a notice)."""
        if self._nvml is None or not self._open:
            return []
        readings = []
        for index, handle, uuid, name in self._handles:
            rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            used, total = int(memory.used), int(memory.total)
            readings.append(GpuReading(index, uuid, name, float(rates.gpu), used, total))
        return readings

    def close(self) -> None:
        if self._open and self._nvml is not None:
            self._open = False
            self._handles = []
            # Shutting down a half-working driver must not hide the result it already gave.
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()


def available(nvml: Nvml | None = None) -> tuple[bool, str]:
    """(True, the GPUs found) or (False, a one-line reason, e.g. "no GPU: NVML Shared Library Not Found")."""
    gpus = NvmlGpus(nvml)
    reason = gpus.open()
    if reason is not None:
        return False, reason
    found = gpus.describe()
    gpus.close()
    return True, found
