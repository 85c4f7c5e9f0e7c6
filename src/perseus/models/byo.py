"""Bring-your-own ONNX: validate a user's file and copy it into the model cache."""

import shutil
from pathlib import Path

import onnx

from perseus.core.errors import ModelError, one_line
from perseus.models import cache, synthetic
from perseus.models.export import CNNS
from perseus.models.inspect_onnx import describe
from perseus.models.spec import WEIGHTS_USER, ModelInfo, valid_name


def add_model(name: str, path: Path, *, replace: bool = False) -> ModelInfo:
    """Validate `path` as ONNX and store it as `<cache>/<name>/model.onnx`. A name already in the cache is
    refused unless `replace`: runs measured with that model would otherwise resume on a different one."""
    if not valid_name(name):
        raise ModelError(f"model name {name!r} must match [a-z0-9][a-z0-9_.-]*")
    # The synthetic- prefix is reserved too: synthetic-cpu caches each configuration under such a name.
    if name in CNNS or name in synthetic.NAMES or name.startswith("synthetic-"):
        raise ModelError(f"model name {name!r} clashes with a built-in model; choose another name")
    existing = cache.read_sidecar(name)
    if existing is not None and not replace:
        raise ModelError(
            f"model {name!r} already exists ({existing.source}); pass --force to replace it, "
            "or choose another name"
        )
    source = path.expanduser().resolve()
    if not source.is_file():
        raise ModelError(f"{source} is not a file")
    try:
        # The path form also accepts models over 2 GiB, which the in-memory form refuses.
        onnx.checker.check_model(str(source))
        model = onnx.load(str(source), load_external_data=False)
    except Exception as exc:  # checker and protobuf raise several types for the same problem
        # Checker messages carry trailing prose and newlines; the CLI shows exactly one line.
        raise ModelError(f"{source} is not a valid ONNX model: {one_line(exc)}") from exc
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        raise ModelError(f"{source} keeps its weights in external data files; save it as one .onnx file")
    info = describe(
        model,
        name=name,
        base=name,
        path=str(source),
        source=f"user file {source}",
        weights=WEIGHTS_USER,
        options={},
    )
    return cache.store(name, lambda dest: shutil.copyfile(source, dest), lambda _path: info)
