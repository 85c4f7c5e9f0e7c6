"""Export real CNNs with torch and run them in onnxruntime."""

import json
from pathlib import Path

import onnxruntime as ort
import pytest

from perseus.models import load_onnx_input, resolve_model

pytest.importorskip("torch")
pytest.importorskip("pytorchcv")

pytestmark = pytest.mark.integration

# 2 x multiply-adds of the published architectures (SqueezeNet 1.1 ≈ 0.35 G MACs,
# GoogLeNet ≈ 1.5 G MACs per the paper); a broad band catches a wrong layout or a broken counter.
FLOPS_BANDS = {"squeezenet1_1": (0.6e9, 0.8e9), "googlenet": (2.9e9, 3.4e9)}


@pytest.mark.parametrize("name", ["squeezenet1_1", "googlenet"])
def test_export_and_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path))
    statuses: list[str] = []
    info = resolve_model(name, on_status=statuses.append)
    assert statuses and statuses[0].startswith(f"exporting {name}")
    assert info.path is not None and info.batch_dynamic
    session = ort.InferenceSession(info.path, providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        (output,) = session.run(None, load_onnx_input(info, batch, seed=0))
        assert output.shape == (batch, 1000)
    sidecar = json.loads((Path(info.path).parent / "model.json").read_text())
    assert sidecar["params"] > 0 and sidecar["source"] and sidecar["weights"].startswith("random")
    low, high = FLOPS_BANDS[name]
    assert info.flops is not None and low < info.flops < high
    assert resolve_model(name, export_missing=False) == info
