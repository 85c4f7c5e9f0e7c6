"""GPU telemetry: the real absent path on this machine, and the present path with a fake NVML."""

import importlib

import pytest

from perseus.telemetry import GpuReading, NvmlGpus, available
from tests.fixtures.telemetry_fakes import FakeNvml

TWO_GPUS = [("GPU-a1", "NVIDIA T4", 37.0, 1 << 30, 16 << 30), ("GPU-b2", "NVIDIA T4", 0.0, 0, 16 << 30)]


def _has_gpu() -> bool:
    return available()[0]


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_absent_gpu_is_a_reason_not_an_exception() -> None:
    ok, reason = available()
    assert not ok and reason.startswith("no GPU: ") and "\n" not in reason
    gpus = NvmlGpus()
    assert gpus.open() == reason
    assert gpus.read() == []
    gpus.close()


def test_missing_library_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", refuse)
    assert available() == (False, "no GPU: nvidia-ml-py (pynvml) is not installed")


def test_present_gpus_are_read() -> None:
    nvml = FakeNvml(TWO_GPUS)
    assert available(nvml) == (True, "0: NVIDIA T4, 1: NVIDIA T4")
    assert not nvml.initialised  # available() shuts NVML down again
    gpus = NvmlGpus(nvml)
    assert gpus.open() is None
    assert gpus.read() == [
        GpuReading(0, "GPU-a1", "NVIDIA T4", 37.0, 1 << 30, 16 << 30),
        GpuReading(1, "GPU-b2", "NVIDIA T4", 0.0, 0, 16 << 30),
    ]
    gpus.close()
    assert not nvml.initialised and gpus.read() == []


@pytest.mark.parametrize(
    ("nvml", "reason"),
    [
        (FakeNvml([], init_error="Driver Not Loaded"), "no GPU: Driver Not Loaded"),
        (FakeNvml([]), "no GPU: NVML found no device"),
    ],
)
def test_driver_without_gpus(nvml: FakeNvml, reason: str) -> None:
    assert available(nvml) == (False, reason)
    assert not nvml.initialised
