"""The CNN catalog and its torch → ONNX export (torch is imported only when exporting)."""

import importlib
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from perseus.core.errors import ModelError, one_line

OPSET = 17
INSTALL_HINT = "pip install 'torch==2.13.0' 'pytorchcv>=0.0.67' onnxscript (the perseus[zoo] extra)"


class CnnEntry(BaseModel):
    """One CNN of the zoo: where its architecture comes from and its input size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    module: str  # a specific pytorchcv module: pytorchcv.model_provider pulls in torchvision
    factory: str
    size: int
    description: str
    export_s: int  # rough first-export time, for the status line


def _entry(name: str, module: str, factory: str, size: int, description: str, export_s: int) -> CnnEntry:
    return CnnEntry(
        name=name, module=module, factory=factory, size=size, description=description, export_s=export_s
    )


# export_s: measured on a 2-core EPYC (model build + random init + export), rounded up.
CNNS: dict[str, CnnEntry] = {
    entry.name: entry
    for entry in (
        _entry("resnet50", "pytorchcv.models.resnet", "resnet50", 224, "ResNet-50 (He et al. 2015)", 5),
        _entry(
            "mobilenet_v2", "pytorchcv.models.mobilenetv2", "mobilenetv2_w1", 224,
            "MobileNetV2 width 1.0 (Sandler et al. 2018)", 2,
        ),
        _entry(
            "inception_v3", "pytorchcv.models.inceptionv3", "inceptionv3", 299,
            "Inception v3 (Szegedy et al. 2015), 299x299 input", 5,
        ),
        _entry(
            "googlenet", "perseus.models.googlenet", "googlenet", 224,
            "GoogLeNet / Inception v1 (Szegedy et al. 2014), no aux heads", 3,
        ),
        _entry("vgg16", "pytorchcv.models.vgg", "vgg16", 224, "VGG-16 (Simonyan & Zisserman 2014)", 20),
        _entry(
            "densenet121", "pytorchcv.models.densenet", "densenet121", 224,
            "DenseNet-121 (Huang et al. 2016)", 3,
        ),
        _entry(
            "squeezenet1_1", "pytorchcv.models.squeezenet", "squeezenet_v1_1", 224,
            "SqueezeNet 1.1 (Iandola et al. 2016)", 2,
        ),
        _entry(
            "efficientnet_b0", "pytorchcv.models.efficientnet", "efficientnet_b0", 224,
            "EfficientNet-B0 (Tan & Le 2019)", 2,
        ),
    )
}  # fmt: skip


def source_of(entry: CnnEntry) -> str:
    if entry.module.startswith("pytorchcv."):
        try:
            version = metadata.version("pytorchcv")
        except metadata.PackageNotFoundError:
            version = "(not installed)"
        return f"pytorchcv {version} {entry.factory}"
    return "perseus googlenet.py (Inception v1 as in Szegedy et al. 2014)"


def export_cnn(entry: CnnEntry, dest: Path) -> None:
    """Build `entry` with seeded random weights in eval mode and export it to `dest` (opset 17)."""
    try:
        import torch
    except ImportError as exc:
        raise ModelError(f"exporting CNNs needs torch; install with {INSTALL_HINT}") from exc
    try:
        factory: Any = getattr(importlib.import_module(entry.module), entry.factory)
    except ImportError as exc:
        raise ModelError(
            f"exporting {entry.name} needs {entry.module}: {one_line(exc, with_type=True)}; {INSTALL_HINT}"
        ) from exc
    torch.manual_seed(0)  # the same random weights on every export
    try:
        model = factory().eval()
        example = torch.randn(1, 3, entry.size, entry.size)
        with torch.no_grad(), warnings.catch_warnings():
            # The legacy exporter warns that it is deprecated; dynamo=False is chosen on purpose
            # (it handles these CNNs in seconds without onnxscript version coupling).
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(dest),
                dynamo=False,
                opset_version=OPSET,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )
    except Exception as exc:  # torch raises many types; the user needs one line, not a traceback
        raise ModelError(f"exporting {entry.name} failed: {one_line(exc, with_type=True)}") from exc
