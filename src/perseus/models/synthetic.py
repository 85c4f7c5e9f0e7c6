"""The two synthetic models: synthetic-cpu (MatMul+Tanh chain in ONNX) and synthetic-sleep."""

import math
import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from perseus.core.errors import ModelError
from perseus.models.spec import WEIGHTS_NONE, ModelInfo, TensorSpec, format_spec

CPU = "synthetic-cpu"
SLEEP = "synthetic-sleep"
NAMES = (CPU, SLEEP)
SOURCE = "perseus synthetic"

# Tuned on a 2-core AMD EPYC (32 MiB L3) with onnxruntime, one intra-op thread: ~2.4 ms at batch 1.
# At batch 1 each layer is a matrix-vector product, so the time is bound by reading the weights;
# 1024x1024x10 float32 = 40 MiB stays clear of a 32 MiB L3 instead of sitting on its edge.
CPU_DEFAULTS = {"dim": 1024, "layers": 10}
SLEEP_DEFAULT_MS = 10.0
_MAX_DIM = 8192
_MAX_LAYERS = 256
_MAX_WEIGHT_BYTES = 1 << 30  # protobuf caps a model at 2 GiB; stay well below
_MAX_SLEEP_MS = 3_600_000.0

_INT = re.compile(r"^[0-9]+$")
_FLOAT = re.compile(r"^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")

DESCRIPTIONS = {
    CPU: (
        "chain of `layers` MatMul(dim x dim)+Tanh, fixed seeded weights; CPU/memory-bound stand-in "
        f"(options dim={CPU_DEFAULTS['dim']}, layers={CPU_DEFAULTS['layers']})"
    ),
    SLEEP: (
        f"identity that sleeps service_ms per request; pure queueing (option service_ms={SLEEP_DEFAULT_MS:g})"
    ),
}


def _reject_unknown(base: str, options: dict[str, str], known: tuple[str, ...]) -> None:
    for key in options:
        if key not in known:
            raise ModelError(f"unknown option {key!r} for model {base!r}; known options: {', '.join(known)}")


def _int_option(base: str, key: str, value: str, low: int, high: int) -> int:
    if not _INT.match(value) or not low <= int(value) <= high:
        raise ModelError(f"option {key}={value!r} of {base!r} must be an integer from {low} to {high}")
    return int(value)


def format_float(value: float) -> str:
    """Shortest text that reads back as the same float, without a trailing .0 (20.0 → "20")."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def cpu_options(options: dict[str, str]) -> dict[str, str]:
    """Validated, canonical options of synthetic-cpu with defaults filled in."""
    _reject_unknown(CPU, options, ("dim", "layers"))
    dim = _int_option(CPU, "dim", options.get("dim", str(CPU_DEFAULTS["dim"])), 1, _MAX_DIM)
    layers = _int_option(CPU, "layers", options.get("layers", str(CPU_DEFAULTS["layers"])), 1, _MAX_LAYERS)
    if dim * dim * layers * 4 > _MAX_WEIGHT_BYTES:
        raise ModelError(f"{CPU} with dim={dim} and layers={layers} would hold more than 1 GiB of weights")
    return {"dim": str(dim), "layers": str(layers)}


def sleep_options(options: dict[str, str]) -> dict[str, str]:
    """Validated, canonical options of synthetic-sleep with defaults filled in."""
    _reject_unknown(SLEEP, options, ("service_ms",))
    raw = options.get("service_ms", format_float(SLEEP_DEFAULT_MS))
    value = float(raw) if _FLOAT.match(raw) else math.nan
    if not 0 < value <= _MAX_SLEEP_MS:  # also false for nan
        raise ModelError(f"option service_ms={raw!r} of {SLEEP!r} must be a number of ms > 0 and <= 3600000")
    return {"service_ms": format_float(value)}


def cpu_cache_name(options: dict[str, str]) -> str:
    """Directory name in the cache; carries the options so each configuration has its own file."""
    return f"{CPU}_dim{options['dim']}_layers{options['layers']}"


def build_cpu_model(dim: int, layers: int) -> onnx.ModelProto:
    """input [batch, dim] → (MatMul W_i → Tanh) x layers → output [batch, dim], opset 17."""
    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []
    previous = "input"
    for layer in range(layers):
        rng = np.random.default_rng(seed=layer)
        # 1/sqrt(dim) keeps each pre-activation ~N(0, var(input)), so Tanh neither saturates nor vanishes.
        matrix = (rng.standard_normal((dim, dim)) / math.sqrt(dim)).astype(np.float32)
        weights.append(numpy_helper.from_array(matrix, name=f"w{layer}"))
        output = "output" if layer == layers - 1 else f"h{layer}"
        nodes.append(helper.make_node("MatMul", [previous, f"w{layer}"], [f"mm{layer}"]))
        nodes.append(helper.make_node("Tanh", [f"mm{layer}"], [output]))
        previous = output
    graph = helper.make_graph(
        nodes,
        "synthetic_cpu",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", dim])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="perseus")
    # IR 8 is what opset 17 shipped with; newer IR versions are refused by older onnxruntime/Triton builds.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def sleep_info(options: dict[str, str]) -> ModelInfo:
    """synthetic-sleep has no file: the serving layer implements the sleep."""
    return ModelInfo(
        name=format_spec(SLEEP, options),
        base=SLEEP,
        kind="sleep",
        path=None,
        inputs=(TensorSpec(name="input", shape=(-1, 1), dtype="float32"),),
        outputs=(TensorSpec(name="output", shape=(-1, 1), dtype="float32"),),
        batch_dynamic=True,
        params=0,
        flops=0,
        source=SOURCE,
        weights=WEIGHTS_NONE,
        options=options,
    )
