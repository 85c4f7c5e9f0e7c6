"""FLOPs, parameter count and signature read from hand-built ONNX graphs."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from perseus.core.errors import ModelError
from perseus.models.inspect_onnx import count_flops, count_params, signature


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _model(
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    in_shape: list[int | str],
    out_shape: list[int | str],
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _conv_net() -> onnx.ModelProto:
    # Large weights (> 1024 elements) exercise the weight-less copy used for shape inference.
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),  # [N,4,8,8]
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=2, strides=[2, 2]),  # [N,6,4,4]
        helper.make_node("Flatten", ["c2"], ["f"]),  # [N,96]
        helper.make_node("MatMul", ["f", "w3"], ["m"]),  # [N,40]
        helper.make_node("Gemm", ["m", "w4"], ["y"], transB=1),  # [N,5]
    ]
    inits = [_weight("w1", 4, 3, 3, 3), _weight("b1", 4), _weight("w2", 6, 2, 1, 1)]
    inits += [_weight("w3", 96, 40), _weight("w4", 5, 40)]
    return _model(nodes, inits, ["batch", 3, 8, 8], ["batch", 5])


def test_flops_by_hand() -> None:
    conv1 = 2 * (4 * 8 * 8) * 3 * 3 * 3  # 2 * out elems * Cin/groups * kH * kW
    conv2 = 2 * (6 * 4 * 4) * (4 // 2) * 1 * 1
    matmul = 2 * 1 * 40 * 96
    gemm = 2 * 1 * 5 * 40
    assert count_flops(_conv_net()) == conv1 + conv2 + matmul + gemm == 13824 + 384 + 7680 + 400


def test_params_and_signature() -> None:
    model = _conv_net()
    assert count_params(model) == 4 * 3 * 3 * 3 + 4 + 6 * 2 + 96 * 40 + 5 * 40
    inputs, _ = signature(model)
    assert [(t.name, t.shape, t.dtype) for t in inputs] == [("x", (-1, 3, 8, 8), "float32")]


def test_batched_matmul_flops() -> None:
    matmul = helper.make_node("MatMul", ["x", "w"], ["y"])
    model = _model([matmul], [_weight("w", 7, 3)], [2, 5, 7], [2, 5, 3])
    assert count_flops(model) == 2 * (2 * 5 * 3) * 7


def test_symbolic_non_batch_dim_gives_none() -> None:
    matmul = helper.make_node("MatMul", ["x", "w"], ["y"])
    model = _model([matmul], [_weight("w", 7, 3)], ["n", "seq", 7], ["n", "seq", 3])
    assert count_flops(model) is None


def test_uncounted_op_gives_none() -> None:
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"])
    assert count_flops(_model([node], [_weight("w", 3, 2, 3, 3)], [1, 3, 4, 4], [1, 2, 6, 6])) is None


def test_unknown_rank_input_is_rejected() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    with pytest.raises(ModelError, match="unknown rank"):
        signature(helper.make_model(graph))
