"""The model-zoo value types and the `NAME:key=value` spec parser."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from perseus.core.errors import ModelError

WEIGHTS_RANDOM = (
    "random (weights not downloadable here; cost of dense CNN inference does not depend on weight values)"
)
WEIGHTS_USER = "user-provided"
WEIGHTS_SYNTHETIC = "fixed seeded random (numpy default_rng(seed=layer index))"
WEIGHTS_NONE = "none (sleep model has no weights)"

Family = Literal["cnn", "synthetic", "byo"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class TensorSpec(BaseModel):
    """One input or output tensor; -1 marks a dynamic (symbolic) dimension."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    shape: tuple[int, ...]
    dtype: str


class ModelInfo(BaseModel):
    """Everything the rest of perseus needs to know about one resolved model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base: str
    kind: Literal["onnx", "sleep"]
    path: str | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch_dynamic: bool
    params: int | None
    flops: int | None
    source: str
    weights: str
    options: dict[str, str]


class ZooEntry(BaseModel):
    """One row of `list_models()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: Family
    description: str
    input_shape: tuple[int, ...]
    exported: bool


class ModelSpec(BaseModel):
    """A parsed `NAME:key=value:...` string (options not yet validated against the model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str
    options: dict[str, str]


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def parse_spec(spec: str) -> ModelSpec:
    """Split `NAME:key=value:key=value`; syntax errors only, the zoo checks names and keys."""
    parts = spec.strip().split(":")
    base = parts[0].strip()
    if not base:
        raise ModelError(f"model spec {spec!r} has no model name")
    options: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key) or not value:
            raise ModelError(f"option {part!r} in model spec {spec!r} is not key=value")
        if key in options:
            raise ModelError(f"option {key!r} given twice in model spec {spec!r}")
        options[key] = value
    return ModelSpec(base=base, options=options)


def format_spec(base: str, options: dict[str, str]) -> str:
    """The canonical name: base then options sorted by key, so equal configurations get equal names."""
    return ":".join([base, *(f"{key}={options[key]}" for key in sorted(options))])
