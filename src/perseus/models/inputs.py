"""Random input tensors matching a model's signature, for tests and load generation."""

from typing import Any

import numpy as np
import numpy.typing as npt

from perseus.core.errors import ModelError
from perseus.models.spec import ModelInfo


def load_onnx_input(info: ModelInfo, batch: int, seed: int) -> dict[str, npt.NDArray[Any]]:
    """One random array per input; a dynamic first dim becomes `batch`, other dynamic dims become 1."""
    if batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    rng = np.random.default_rng(seed)
    arrays: dict[str, npt.NDArray[Any]] = {}
    for tensor in info.inputs:
        shape = tuple(
            dim if dim >= 0 else (batch if index == 0 else 1) for index, dim in enumerate(tensor.shape)
        )
        try:
            dtype = np.dtype(tensor.dtype)
        except TypeError as exc:
            raise ModelError(f"input {tensor.name!r} has dtype {tensor.dtype!r}, which numpy lacks") from exc
        if dtype.kind == "f":
            arrays[tensor.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            # Small non-negative values: valid as indices or token ids for most models.
            arrays[tensor.name] = rng.integers(0, 10, size=shape).astype(dtype)
        elif dtype.kind == "b":
            arrays[tensor.name] = rng.random(shape) < 0.5
        else:
            raise ModelError(f"cannot generate random input {tensor.name!r} of dtype {tensor.dtype}")
    return arrays
