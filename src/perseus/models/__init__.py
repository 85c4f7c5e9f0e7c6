"""The model zoo: CNNs exported from torch, synthetic models and bring-your-own ONNX files."""

from perseus.models.byo import add_model
from perseus.models.inputs import load_onnx_input
from perseus.models.spec import ModelInfo, ModelSpec, TensorSpec, ZooEntry, format_spec, parse_spec
from perseus.models.zoo import check_model, export_models, list_models, resolve_model

__all__ = [
    "ModelInfo",
    "ModelSpec",
    "TensorSpec",
    "ZooEntry",
    "add_model",
    "check_model",
    "export_models",
    "format_spec",
    "list_models",
    "load_onnx_input",
    "parse_spec",
    "resolve_model",
]
