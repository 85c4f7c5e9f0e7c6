"""A host fact ("no GPU") is shown once per PERSEUS_HOME; other telemetry notices every time."""

from pathlib import Path

import pytest

from perseus.cli.notices import worth_showing

NO_GPU = "GPU telemetry skipped: no GPU: NVML Shared Library Not Found"
SCRAPE = "metrics scrape failed: connection refused"


def test_no_gpu_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path))
    assert worth_showing([NO_GPU, SCRAPE, NO_GPU]) == [NO_GPU, SCRAPE]
    assert worth_showing([NO_GPU, SCRAPE]) == [SCRAPE]
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path / "elsewhere"))
    assert worth_showing([NO_GPU]) == [NO_GPU]
