"""Read what an ONNX model costs and expects: signature, parameter count, FLOPs at batch 1."""

import math
from collections.abc import Iterable

import onnx
from onnx import helper, shape_inference

from perseus.core.errors import ModelError
from perseus.models.spec import ModelInfo, TensorSpec

# Heavy linear algebra this counter does not model; with any of them present a FLOPs figure would be
# an undercount, and no number is better than a wrong one.
_UNCOUNTED_OPS = frozenset(
    {
        "ConvTranspose", "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "Einsum",
        "LSTM", "GRU", "RNN", "Attention", "DeformConv", "If", "Loop", "Scan",
    }
)  # fmt: skip
# Initializers larger than this are passed to shape inference as typed inputs instead of data, so
# inferring shapes of a 500 MB VGG stays cheap; small ones (Reshape targets) keep their values.
_INLINE_INITIALIZER_LIMIT = 1024


def _elem_dtype(elem_type: int) -> str:
    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type).name)
    except (KeyError, ValueError, TypeError):
        return str(onnx.TensorProto.DataType.Name(elem_type)).lower()


def _tensor_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    if not value.type.HasField("tensor_type"):
        raise ModelError(
            f"tensor {value.name!r} is not a plain tensor; only tensor inputs/outputs are supported"
        )
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        raise ModelError(f"tensor {value.name!r} has no declared shape (unknown rank)")
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in tensor_type.shape.dim)
    return TensorSpec(name=value.name, shape=shape, dtype=_elem_dtype(tensor_type.elem_type))


def _graph_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    # Before IR v4 initializers were also listed as graph inputs; they are weights, not inputs.
    initializers = {init.name for init in graph.initializer}
    return [value for value in graph.input if value.name not in initializers]


def signature(model: onnx.ModelProto) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """(inputs, outputs) of the main graph."""
    inputs = tuple(_tensor_spec(value) for value in _graph_inputs(model.graph))
    outputs = tuple(_tensor_spec(value) for value in model.graph.output)
    return inputs, outputs


def count_params(model: onnx.ModelProto) -> int:
    return sum(math.prod(init.dims) for init in model.graph.initializer)


def batch_is_dynamic(inputs: Iterable[TensorSpec], outputs: Iterable[TensorSpec]) -> bool:
    tensors = [*inputs, *outputs]
    return bool(tensors) and all(t.shape and t.shape[0] == -1 for t in tensors)


def _light_copy_batch1(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A weight-less copy with the batch dim fixed to 1, or None if another dim is symbolic."""
    graph = model.graph
    inputs = []
    for value in _graph_inputs(graph):
        copied = onnx.ValueInfoProto()
        copied.CopyFrom(value)
        for index, dim in enumerate(copied.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                if index != 0:
                    return None
                dim.dim_value = 1  # a oneof: this also clears dim_param
        inputs.append(copied)
    small, large = [], []
    for init in graph.initializer:
        if math.prod(init.dims) <= _INLINE_INITIALIZER_LIMIT:
            small.append(init)
        else:
            large.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    light_graph = helper.make_graph(
        list(graph.node), graph.name or "main", inputs + large, list(graph.output), initializer=small
    )
    light = helper.make_model(light_graph, opset_imports=list(model.opset_import))
    light.ir_version = model.ir_version
    return light


def _static_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor_type = value.type.tensor_type
        dims = tensor_type.shape.dim
        if tensor_type.HasField("shape") and all(dim.HasField("dim_value") for dim in dims):
            shapes[value.name] = tuple(dim.dim_value for dim in dims)
    for init in graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _node_flops(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int | None:
    if node.op_type == "Conv":
        y, w = shapes.get(node.output[0]), shapes.get(node.input[1])
        if y is None or w is None or len(w) < 3:
            return None
        # w is [Cout, Cin/groups, *kernel], so the per-output MAC count is prod(w[1:]).
        return 2 * math.prod(y) * math.prod(w[1:])
    if node.op_type == "Gemm":
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            return None
        attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
        m, k = (a[1], a[0]) if attrs.get("transA", 0) else a
        n = b[0] if attrs.get("transB", 0) else b[1]
        return 2 * m * n * k
    if node.op_type == "MatMul":
        a, y = shapes.get(node.input[0]), shapes.get(node.output[0])
        if a is None or y is None or not a:
            return None
        return 2 * math.prod(y) * a[-1]
    return 0


def count_flops(model: onnx.ModelProto) -> int | None:
    """2 x multiply-adds of Conv/Gemm/MatMul at batch 1; None if anything needed is unknown."""
    for node in model.graph.node:
        if node.op_type in _UNCOUNTED_OPS:
            return None
        if node.domain not in ("", "ai.onnx") and any(k in node.op_type for k in ("Conv", "MatMul", "Gemm")):
            return None
    light = _light_copy_batch1(model)
    if light is None:
        return None
    try:
        inferred = shape_inference.infer_shapes(light, strict_mode=True, data_prop=True)
    except Exception:  # any inference failure just means "unknown", not an error
        return None
    shapes = _static_shapes(inferred.graph)
    shapes.update({init.name: tuple(init.dims) for init in model.graph.initializer})
    total = 0
    for node in inferred.graph.node:
        flops = _node_flops(node, shapes)
        if flops is None:
            return None
        total += flops
    return total


def describe(
    model: onnx.ModelProto,
    *,
    name: str,
    base: str,
    path: str,
    source: str,
    weights: str,
    options: dict[str, str],
) -> ModelInfo:
    """Build the ModelInfo of an ONNX model from the model itself."""
    inputs, outputs = signature(model)
    return ModelInfo(
        name=name,
        base=base,
        kind="onnx",
        path=path,
        inputs=inputs,
        outputs=outputs,
        batch_dynamic=batch_is_dynamic(inputs, outputs),
        params=count_params(model),
        flops=count_flops(model),
        source=source,
        weights=weights,
        options=options,
    )
