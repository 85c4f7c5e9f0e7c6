"""Export a self-contained Triton model repository (onnxruntime or python backend) for a Triton elsewhere,
checked against Triton's own ModelConfig schema and the ONNX files it carries."""

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from google.protobuf import text_format
from onnx import external_data_helper
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import np_to_triton_dtype

from perseus.core.errors import ConfigError, ModelError
from perseus.models import TensorSpec
from perseus.models.inspect_onnx import signature
from perseus.serving.repository import Tenant, batching_block, render_config, tensor_block

Format = Literal["triton-onnxruntime", "triton-python"]
FORMATS: tuple[Format, ...] = ("triton-onnxruntime", "triton-python")
Kind = Literal["gpu", "cpu"]
ONNX_FILE = "model.onnx"
README = "README.txt"


@dataclass(frozen=True)
class Placement:
    """Where Triton puts the instances: KIND_GPU (on `gpus`, or every GPU when empty) or KIND_CPU."""

    kind: Kind = "cpu"
    gpus: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.gpus and self.kind != "gpu":
            raise ConfigError("GPU ids only apply to instances of kind gpu")
        if any(gpu < 0 for gpu in self.gpus) or len(set(self.gpus)) != len(self.gpus):
            raise ConfigError(f"GPU ids must be distinct and ≥ 0, got {list(self.gpus)}")

    @property
    def triton_kind(self) -> str:
        return "KIND_GPU" if self.kind == "gpu" else "KIND_CPU"


@dataclass(frozen=True)
class ExportedModel:
    name: str
    path: Path  # the model's folder in the exported repository
    format: Format
    placement: Placement
    instances: int  # Triton's count: per GPU for KIND_GPU
    weights: str


def render_onnxruntime_config(tenant: Tenant, placement: Placement) -> str:
    """config.pbtxt text for Triton's native onnxruntime backend (the model file is <name>/1/model.onnx)."""
    model, knobs = tenant.model, tenant.config
    if model.kind != "onnx":
        raise ModelError(
            f"{tenant.name}: a sleep model has no ONNX file (perseus's python backend implements the "
            "sleep), so it cannot be exported for the onnxruntime backend; use --format triton-python"
        )
    batched = model.batch_dynamic
    if knobs.dynamic_batching and not batched:
        raise ModelError(
            f"{tenant.name}: dynamic batching needs a model with a dynamic batch dimension; "
            f"{model.name} has a fixed input shape {list(model.inputs[0].shape)}"
        )
    group = f"kind: {placement.triton_kind}, count: {knobs.instances}"
    if placement.gpus:
        group += ", gpus: [ " + ", ".join(map(str, placement.gpus)) + " ]"
    # The same tensor and batching blocks as the embedded server's repository: both formats must agree.
    lines = [
        f'name: "{tenant.name}"',
        'platform: "onnxruntime_onnx"',
        'backend: "onnxruntime"',
        f"max_batch_size: {knobs.max_batch_size if batched else 0}",
        "input [\n" + ",\n".join(tensor_block(t, batched) for t in model.inputs) + "\n]",
        "output [\n" + ",\n".join(tensor_block(t, batched) for t in model.outputs) + "\n]",
        f"instance_group [ {{ {group} }} ]",
        *batching_block(knobs),
    ]
    # 0 means "onnxruntime's default"; the backend reads an absent key the same way, so omit it.
    lines += [
        f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}'
        for key, value in _ort_threads(tenant).items()
    ]
    return "\n".join(lines) + "\n"


def _ort_threads(tenant: Tenant) -> dict[str, str]:
    threads = {
        "intra_op_thread_count": tenant.config.effective_intra_op_threads(),
        "inter_op_thread_count": tenant.config.inter_op_threads,
    }
    return {key: str(value) for key, value in threads.items() if value}


def render(tenant: Tenant, fmt: Format, placement: Placement) -> str:
    if fmt == "triton-onnxruntime":
        return render_onnxruntime_config(tenant, placement)
    # The python backend's model.py resolves a relative path against the version folder.
    return render_config(tenant, onnx_path=ONNX_FILE if tenant.model.kind == "onnx" else None)


def _bug(tenant: Tenant, what: str) -> ModelError:
    return ModelError(f"{tenant.name}: exported config.pbtxt is wrong ({what}); this is a perseus bug")


def _triton_type(dtype: str) -> str:
    return "TYPE_" + str(np_to_triton_dtype(np.dtype(dtype)))


def _tensors(specs: Sequence[TensorSpec], batched: bool) -> list[tuple[str, str, list[int]]]:
    return [(t.name, _triton_type(t.dtype), list(t.shape[1:] if batched else t.shape)) for t in specs]


def _config_tensors(tensors: Any) -> list[tuple[str, str, list[int]]]:
    return [(t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims)) for t in tensors]


def _batching(config: Any) -> tuple[tuple[int, ...], int] | None:
    if not config.HasField("dynamic_batching"):
        return None
    block = config.dynamic_batching
    return tuple(block.preferred_batch_size), int(block.max_queue_delay_microseconds)


def _expected_batching(tenant: Tenant) -> tuple[tuple[int, ...], int] | None:
    knobs = tenant.config
    return (knobs.preferred_batch_sizes, knobs.max_queue_delay_us) if knobs.dynamic_batching else None


def _parameters_ok(config: Any, tenant: Tenant, fmt: Format) -> bool:
    params = {key: value.string_value for key, value in config.parameters.items()}
    if fmt == "triton-onnxruntime":
        return params == _ort_threads(tenant)
    kind = tenant.model.kind
    return (
        params.get("perseus_kind") == kind
        and params.get("onnx_path") == (ONNX_FILE if kind == "onnx" else None)
        and params.get("intra_op_threads") == str(tenant.config.effective_intra_op_threads())
    )


def check_config(text: str, tenant: Tenant, fmt: Format, placement: Placement) -> Any:
    """Parse config.pbtxt with Triton's own ModelConfig schema and compare every field we set with what
    the tenant asks for; returns the parsed ModelConfig."""
    try:
        config = text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise _bug(tenant, f"not a valid ModelConfig: {exc}") from None
    model, knobs = tenant.model, tenant.config
    batched = model.batch_dynamic
    backend = ("onnxruntime_onnx", "onnxruntime") if fmt == "triton-onnxruntime" else ("", "python")
    expected_kind = placement.triton_kind if fmt == "triton-onnxruntime" else "KIND_CPU"
    expected_gpus = list(placement.gpus) if fmt == "triton-onnxruntime" else []
    groups = [
        (model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind), g.count, list(g.gpus))
        for g in config.instance_group
    ]
    checks = {
        "name": config.name == tenant.name,
        "platform/backend": (config.platform, config.backend) == backend,
        "max_batch_size": config.max_batch_size == (knobs.max_batch_size if batched else 0),
        "inputs": _config_tensors(config.input) == _tensors(model.inputs, batched),
        "outputs": _config_tensors(config.output) == _tensors(model.outputs, batched),
        "instance_group": groups == [(expected_kind, knobs.instances, expected_gpus)],
        "dynamic_batching": _batching(config) == _expected_batching(tenant),
        "parameters": _parameters_ok(config, tenant, fmt),
    }
    wrong = [field for field, ok in checks.items() if not ok]
    if wrong:
        raise _bug(tenant, "mismatch in " + ", ".join(wrong))
    return config


def _compatible(onnx_shape: Sequence[int], config_shape: Sequence[int]) -> bool:
    # -1 in the ONNX file is a symbolic dim: the config may name any size there.
    return len(onnx_shape) == len(config_shape) and all(
        o in (-1, c) for o, c in zip(onnx_shape, config_shape, strict=True)
    )


def check_onnx(path: Path, config: Any, name: str) -> None:
    """The ONNX file Triton will load has exactly the config's inputs and outputs, with the config's
    types and shapes (batch dim included when max_batch_size > 0), and carries all its weights."""
    model = onnx.load(str(path), load_external_data=False)
    if any(external_data_helper.uses_external_data(t) for t in model.graph.initializer):
        raise ModelError(
            f"{name}: {path.name} keeps its weights in external data files, which a single-file "
            "repository cannot carry; save the model with its weights inside"
        )
    batch = [-1] if config.max_batch_size > 0 else []
    inputs, outputs = signature(model)
    for what, specs, tensors in (("input", inputs, config.input), ("output", outputs, config.output)):
        found = {t.name: t for t in specs}
        listed = {t.name: t for t in tensors}
        if set(found) != set(listed):
            raise ModelError(
                f"{name}: ONNX {what}s {sorted(found)} differ from config.pbtxt's {sorted(listed)}"
            )
        for tensor_name, spec in found.items():
            entry = listed[tensor_name]
            shape = [*batch, *entry.dims]
            if _triton_type(spec.dtype) != model_config_pb2.DataType.Name(entry.data_type):
                raise ModelError(
                    f"{name}: ONNX {what} {tensor_name!r} is {spec.dtype}, config says otherwise"
                )
            if not _compatible(spec.shape, shape):
                raise ModelError(
                    f"{name}: ONNX {what} {tensor_name!r} has shape {list(spec.shape)}, config.pbtxt {shape}"
                )


def _looks_like_repository(directory: Path) -> bool:
    """Only a Triton model repository (model folders with config.pbtxt, our README) is ever replaced."""
    return all(
        entry.name == README or (entry.is_dir() and (entry / "config.pbtxt").is_file())
        for entry in directory.iterdir()
    )


def _check_target(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a directory")
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if not force:
        raise ConfigError(f"{directory} is not empty; pass --force to replace it")
    if not _looks_like_repository(directory):
        # --force on a mistyped path (a home directory, a source tree) must not delete it.
        raise ConfigError(
            f"{directory} holds files that are not a Triton model repository; refusing to replace it "
            "even with --force"
        )


def _write_model(root: Path, tenant: Tenant, fmt: Format, placement: Placement) -> None:
    text = render(tenant, fmt, placement)
    config = check_config(text, tenant, fmt, placement)
    version_dir = root / tenant.name / "1"
    version_dir.mkdir(parents=True)
    if tenant.model.kind == "onnx":
        assert tenant.model.path is not None
        shutil.copyfile(tenant.model.path, version_dir / ONNX_FILE)
        check_onnx(version_dir / ONNX_FILE, config, tenant.name)
    if fmt == "triton-python":
        model_py = resources.files("perseus.serving.backend").joinpath("model.py").read_text()
        (version_dir / "model.py").write_text(model_py)
    (root / tenant.name / "config.pbtxt").write_text(text)


def readme_text(directory: Path, fmt: Format, placement: Placement, tenants: Sequence[Tenant]) -> str:
    """How to serve the repository, and what the models' weights are."""
    lines = [
        f"Triton model repository exported by perseus (format {fmt}).",
        "",
        "Serve it with a full Triton Inference Server (GPU or CPU build), for example:",
        f"    tritonserver --model-repository={directory}",
        "or with the NGC container (24.10 carries tritonserver 2.51, the version perseus measures with):",
        f"    docker run --rm --gpus all -p 8000:8000 -p 8001:8001 -p 8002:8002 -v {directory}:/models \\",
        "        nvcr.io/nvidia/tritonserver:24.10-py3 tritonserver --model-repository=/models",
        "",
    ]
    if fmt == "triton-onnxruntime":
        lines += [
            "Each model is <name>/1/model.onnx served by Triton's onnxruntime backend (platform",
            f"onnxruntime_onnx), with {placement.triton_kind} instances.",
        ]
        if placement.kind == "gpu":
            lines += [
                "The instance count is per GPU. KIND_GPU instances need a GPU: for a CPU-only host,",
                "re-export with --kind cpu (and drop --gpus all from the docker command).",
            ]
    else:
        lines += [
            "Each model is <name>/1/model.py (Triton's python backend) running <name>/1/model.onnx with",
            "onnxruntime on the CPU, exactly as perseus's embedded server does; synthetic-sleep models",
            "sleep instead. The python backend's stub must be able to import numpy and onnxruntime",
            "(in the NGC container: pip install numpy onnxruntime).",
        ]
    lines += ["", "Models and their weights:"]
    lines += [f"  {t.name}: {t.model.name}; weights: {t.model.weights}" for t in tenants]
    if any(t.model.weights.startswith("random") for t in tenants):
        lines += [
            "",
            "Random weights give meaningless predictions but the same compute cost as trained ones:",
            "use this repository to measure speed and cost, not accuracy.",
        ]
    return "\n".join(lines) + "\n"


def _swap_into_place(built: Path, directory: Path) -> None:
    """Move the finished repository to `directory`; an old one is set aside first, deleted last.

    Directories, so not core.files.replacing (which renames one file over another): os.replace cannot
    put a folder over a non-empty one."""
    old = None
    if directory.is_dir():
        if any(directory.iterdir()):
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.rename(directory, old)
        else:
            directory.rmdir()
    os.rename(built, directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_repository(
    tenants: Sequence[Tenant], directory: Path, fmt: Format, placement: Placement, force: bool = False
) -> list[ExportedModel]:
    """Write a self-contained model repository to `directory`: built and checked in a temporary sibling
    folder, then renamed into place, so a failed export leaves no half-written repository behind."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown repository format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "triton-python" and placement != Placement():
        raise ConfigError("the triton-python format runs onnxruntime on the CPU: instances are KIND_CPU")
    directory = directory.absolute()
    _check_target(directory, force)
    directory.parent.mkdir(parents=True, exist_ok=True)
    built = directory.with_name(f".{directory.name}.export-{os.getpid()}")
    shutil.rmtree(built, ignore_errors=True)
    built.mkdir()
    try:
        for tenant in tenants:
            _write_model(built, tenant, fmt, placement)
        (built / README).write_text(readme_text(directory, fmt, placement, tenants))
        _swap_into_place(built, directory)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    used = placement if fmt == "triton-onnxruntime" else Placement()
    return [
        ExportedModel(t.name, directory / t.name, fmt, used, t.config.instances, t.model.weights)
        for t in tenants
    ]
